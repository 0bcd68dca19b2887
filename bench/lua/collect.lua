-- client_credentials requests whose refresh tokens are appended to OUT (one
-- per line), to feed the refresh benchmark: each refresh token is single use.
-- Written from the thread's own state (wrk's done() runs elsewhere), a line
-- at a time so nothing stays buffered when wrk exits.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local out
function init(args)
  out = io.open(os.getenv("OUT"), "a")
  out:setvbuf("line")
end
function response(status, headers, body)
  if status == 200 then
    local token = body:match('"refresh_token":"([^"]+)"')
    if token then out:write(token, "\n") end
  end
end
