-- Each request refreshes a different, unused refresh token from TOKENS (one
-- per line). Requests past the end of the list reuse tokens and fail: the
-- harness sizes the list for the duration and reports non-2xx answers.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local prefix = os.getenv("BODY") .. "&refresh_token="
local next_index = 0
function request()
  next_index = next_index + 1
  local token = tokens[((next_index - 1) % #tokens) + 1]
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, prefix .. token)
end
