"""authlib's OAuth2Session doing the authorization-code flow with PKCE
against hubgate; a requests.Session plays the user's browser (log in,
approve). Reads HUBGATE_URL, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, EMAIL,
PASSWORD; prints a JSON summary; exits non-zero on any failure.
"""
import html
import json
import os
import re
from urllib.parse import urljoin

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the test server speaks plain http
BASE = os.environ["HUBGATE_URL"]


def hidden(page, name):
    match = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page)
    assert match, "no %s field in the page" % name
    return html.unescape(match.group(1))


client = OAuth2Session(
    os.environ["CLIENT_ID"],
    os.environ["CLIENT_SECRET"],
    scope="sub email hubs:read",
    redirect_uri=os.environ["REDIRECT_URI"],
    code_challenge_method="S256",
)
verifier = generate_token(64)
uri, state = client.create_authorization_url(BASE + "/identity/oauth/v2/authorize", code_verifier=verifier)

browser = requests.Session()
login = browser.get(uri)
login.raise_for_status()
after_login = browser.post(
    BASE + "/identity/oauth/v2/authorize/login",
    data={
        "email": os.environ["EMAIL"],
        "password": os.environ["PASSWORD"],
        "csrf": hidden(login.text, "csrf"),
        "request": hidden(login.text, "request"),
    },
    allow_redirects=False,
)
assert after_login.status_code == 303, after_login.status_code
consent = browser.get(urljoin(BASE, after_login.headers["Location"]))
consent.raise_for_status()
approved = browser.post(
    BASE + "/identity/oauth/v2/authorize/decision",
    data={
        "csrf": hidden(consent.text, "csrf"),
        "request": hidden(consent.text, "request"),
        "account": hidden(consent.text, "account"),
        "decision": "approve",
    },
    allow_redirects=False,
)
assert approved.status_code == 303, approved.status_code
callback = approved.headers["Location"]

# authlib checks the state in the callback and sends the verifier.
token = client.fetch_token(BASE + "/identity/oauth/v2/token", authorization_response=callback, code_verifier=verifier)
me = client.get(BASE + "/identity/oauth/v2/userinfo")
me.raise_for_status()
hubs = client.get(BASE + "/api/v1/hubs")
hubs.raise_for_status()
print(json.dumps({
    "scope": token.get("scope"),
    "has_refresh_token": bool(token.get("refresh_token")),
    "email": me.json().get("email"),
    "hubs": len(hubs.json()["items"]),
    "iss_in_callback": "iss=" in callback,
}))
