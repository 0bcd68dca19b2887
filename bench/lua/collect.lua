-- client_credentials requests whose refresh tokens (or, with FIELD set, that
-- field: access_token) are appended to OUT (one per line), to feed the
-- refresh benchmark (each refresh token is single use) or the many-tokens GET.
-- Written from the thread's own state (wrk's done() runs elsewhere), a line
-- at a time so nothing stays buffered when wrk exits.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local out
local pattern = '"' .. (os.getenv("FIELD") or "refresh_token") .. '":"([^"]+)"'
function init(args)
  out = io.open(os.getenv("OUT"), "a")
  out:setvbuf("line")
end
function response(status, headers, body)
  if status == 200 then
    local token = body:match(pattern)
    if token then out:write(token, "\n") end
  end
end
