"""Two-factor sign-in: authenticator apps (TOTP), passkeys, recovery codes, and the policy.

`state` holds what a session knows about its second factor; `factors` what a user has enrolled.
"""
