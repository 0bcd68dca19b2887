"""Clients nobody at hubgate wrote, doing client_credentials against hubgate.

Usage: client_credentials.py (requests-oauthlib|authlib)
Reads HUBGATE_URL, CLIENT_ID, CLIENT_SECRET; prints a JSON summary; exits
non-zero on any failure.
"""
import json
import os
import sys

BASE = os.environ["HUBGATE_URL"]
TOKEN_URL = BASE + "/identity/oauth/v2/token"
CLIENT_ID = os.environ["CLIENT_ID"]
CLIENT_SECRET = os.environ["CLIENT_SECRET"]
SCOPE = ["hubs:read", "accounts:read"]


def with_requests_oauthlib():
    # oauthlib refuses plain http unless told this is a local test.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    from oauthlib.oauth2 import BackendApplicationClient
    from requests_oauthlib import OAuth2Session

    session = OAuth2Session(client=BackendApplicationClient(client_id=CLIENT_ID), scope=SCOPE)
    # The requested scope goes in the body; oauthlib then checks the granted one matches.
    token = session.fetch_token(token_url=TOKEN_URL, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scope=SCOPE)
    hubs = session.get(BASE + "/api/v1/hubs")
    hubs.raise_for_status()
    account = session.get(BASE + "/api/v1/account")
    account.raise_for_status()
    return {
        "library": "requests-oauthlib",
        "scope": token.get("scope"),
        "has_refresh_token": bool(token.get("refresh_token")),
        "hubs": len(hubs.json()["items"]),
        "account": account.json()["name"],
    }


def with_authlib():
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(CLIENT_ID, CLIENT_SECRET, scope=" ".join(SCOPE))
    token = session.fetch_token(TOKEN_URL, grant_type="client_credentials")
    hubs = session.get(BASE + "/api/v1/hubs")
    hubs.raise_for_status()
    refreshed = session.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
    again = session.get(BASE + "/api/v1/account")
    again.raise_for_status()
    return {
        "library": "authlib",
        "scope": token.get("scope"),
        "has_refresh_token": bool(token.get("refresh_token")),
        "hubs": len(hubs.json()["items"]),
        "refreshed": refreshed["refresh_token"] != token["refresh_token"],
        "account": again.json()["name"],
    }


if __name__ == "__main__":
    runs = {"requests-oauthlib": with_requests_oauthlib, "authlib": with_authlib}
    print(json.dumps(runs[sys.argv[1]]()))
