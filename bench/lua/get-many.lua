-- GETs, each with a bearer token drawn at random from TOKENS (one per line):
-- many live tokens, more than the verified-token cache may hold at once.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
function init(args)
  math.randomseed(os.time())
end
function request()
  local token = tokens[math.random(#tokens)]
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. token})
end
