-- POSTs the same form body (BODY in the environment) on every request.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local auth = os.getenv("AUTHORIZATION")
if auth then wrk.headers["Authorization"] = auth end
