-- GETs with a bearer token (TOKEN in the environment).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
