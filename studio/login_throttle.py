"""How often someone may guess passwords, sign up or ask for reset emails.

Failed logins count per (email, client address) and per client address. Never per email alone:
then anyone could lock a person out of their account from somewhere else. The person at their own
address keeps trying with growing delays; a guesser spraying many accounts from one address is
slowed on all of them.
"""

from __future__ import annotations

import math

from django.http import HttpRequest

from products.embed.limits import client_address
from studio.ratelimit import backoff_clear, backoff_failure, backoff_wait_s, rate_limit_wait_s

HOUR, DAY = 3600, 86400
# (free failures, first delay, longest delay, seconds after the first failure the count is forgotten)
PER_ACCOUNT_AND_ADDRESS = {"free": 5, "first_delay_s": 60, "max_delay_s": 15 * 60, "forget_s": DAY}
PER_ADDRESS = {"free": 30, "first_delay_s": 60, "max_delay_s": HOUR, "forget_s": DAY}
SIGNUPS_PER_ADDRESS_HOUR = 10
RESET_EMAILS_PER_ADDRESS_HOUR = 10
RESET_EMAILS_PER_EMAIL_HOUR = 3

LOGIN_THROTTLED = (
    "Too many failed logins from your network. Try again in {wait}, or reset your password."
)
SIGNUP_THROTTLED = "Too many sign-ups from your network. Try again in {wait}."
RESET_THROTTLED = "Too many password reset emails were asked for. Try again in {wait}."


def request_address(request: HttpRequest) -> str:
    return client_address(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


def minutes(wait_s: int) -> str:
    count = max(1, math.ceil(wait_s / 60))
    return f"{count} minute" if count == 1 else f"{count} minutes"


def _pair(email: str, address: str) -> str:
    return f"login:pair:{email.strip().lower()}:{address}"


def login_wait_s(*, email: str, address: str) -> int:
    """Seconds before this address may try a password for this email again; 0 when it may now."""
    return max(backoff_wait_s(_pair(email, address)), backoff_wait_s(f"login:address:{address}"))


def login_failure_record(*, email: str, address: str) -> None:
    backoff_failure(_pair(email, address), **PER_ACCOUNT_AND_ADDRESS)
    backoff_failure(f"login:address:{address}", **PER_ADDRESS)


def login_success_record(*, email: str, address: str) -> None:
    # Only the pair: an attacker who logs into an account of their own must not reset their address's count.
    backoff_clear(_pair(email, address))


def signup_wait_s(*, address: str) -> int:
    """Count one sign-up attempt from ``address``; seconds to wait when over the hourly limit, else 0."""
    return rate_limit_wait_s(f"signup:{address}", limit=SIGNUPS_PER_ADDRESS_HOUR, window_s=HOUR)


def password_reset_wait_s(*, email: str, address: str) -> int:
    """Count one reset email asked for; seconds to wait when the address or the mailbox is over its limit."""
    return rate_limit_wait_s(
        f"reset:address:{address}", limit=RESET_EMAILS_PER_ADDRESS_HOUR, window_s=HOUR
    ) or rate_limit_wait_s(f"reset:email:{email.strip().lower()}", limit=RESET_EMAILS_PER_EMAIL_HOUR, window_s=HOUR)
