"""Password guessing is slowed per (email, address) and per address, never per email alone; password reset by email."""

from __future__ import annotations

import itertools
import re
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
_addresses = itertools.count(1)
WRONG_MATCH = "That email and password do not match. Passwords are case-sensitive."


@pytest.fixture
def address() -> str:
    """An address of its own per test: the cache (and so every counter) outlives a test."""
    n = next(_addresses)
    return f"10.77.{n // 250}.{n % 250 + 1}"


@pytest.fixture
def clock(monkeypatch):
    """The limiter's clock, at the start of an hour, moved by hand."""
    import studio.ratelimit

    clock = SimpleNamespace(now=1_800_000_000.0 - 1_800_000_000.0 % 3600)
    monkeypatch.setattr(studio.ratelimit, "time", SimpleNamespace(time=lambda: clock.now))
    return clock


def _login(client, email: str, password: str, address: str):
    return client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=address)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_after_five_wrong_passwords_even_the_right_one_waits_and_is_not_checked(client, make_user, address, clock):
    make_user("ada@example.com")
    for _ in range(6):
        response = _login(client, "ada@example.com", "guess", address)
        assert response.status_code == 200 and WRONG_MATCH in response.content.decode()
    response = _login(client, "ada@example.com", PASSWORD, address)
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed logins from your network. Try again in 1 minute, or reset your password." in body
    assert WRONG_MATCH not in body
    assert not _logged_in(client)

    clock.now += 61
    assert _login(client, "ada@example.com", "guess", address).status_code == 200  # one more guess, then longer
    response = _login(client, "ada@example.com", PASSWORD, address)
    assert response.status_code == 429 and "Try again in 2 minutes" in response.content.decode()

    clock.now += 121
    assert _login(client, "ada@example.com", PASSWORD, address).status_code == 302
    assert _logged_in(client)


def test_a_guesser_elsewhere_cannot_lock_the_owner_out(client, make_user, address, clock):
    make_user("ada@example.com")
    for _ in range(20):
        _login(client, "ada@example.com", "guess", "203.0.113.66")
    assert _login(client, "ada@example.com", "guess", "203.0.113.66").status_code == 429
    response = _login(client, "ada@example.com", PASSWORD, address)
    assert response.status_code == 302 and _logged_in(client)


def test_one_address_guessing_many_accounts_is_slowed_on_all_of_them(client, make_user, address, clock):
    make_user("victim@example.com")
    for n in range(31):
        _login(client, f"person{n}@example.com", "guess", address)
    response = _login(client, "victim@example.com", PASSWORD, address)
    assert response.status_code == 429
    assert "Too many failed logins from your network. Try again in 1 minute" in response.content.decode()
    assert not _logged_in(client)


def test_a_success_forgets_that_accounts_failures_from_that_address(client, make_user, address, clock):
    make_user("ada@example.com")
    for _ in range(5):
        _login(client, "ada@example.com", "guess", address)
    assert _login(client, "ada@example.com", PASSWORD, address).status_code == 302
    client.logout()
    for _ in range(5):
        assert _login(client, "ada@example.com", "guess", address).status_code == 200
    assert _login(client, "ada@example.com", PASSWORD, address).status_code == 302


def test_the_admin_login_is_throttled_too_and_speaks_of_the_email(client, make_user, address, clock):
    get_user_model().objects.create_superuser(username="root@example.com", email="root@example.com", password=PASSWORD)
    url = reverse("admin:login")
    first = client.post(url, {"username": "root@example.com", "password": "guess"}, REMOTE_ADDR=address)
    assert "That email and password do not match a staff account." in first.content.decode()
    for _ in range(6):
        client.post(url, {"username": "root@example.com", "password": "guess"}, REMOTE_ADDR=address)
    response = client.post(url, {"username": "root@example.com", "password": PASSWORD}, REMOTE_ADDR=address)
    assert "Too many failed logins from your network. Try again in" in response.content.decode()
    assert not _logged_in(client)


def test_sign_ups_from_one_address_are_capped_with_the_wait(client, address, clock):
    for n in range(10):
        client.post(reverse("signup"), {"email": f"s{n}@example.com", "password": "12345678"}, REMOTE_ADDR=address)
    response = client.post(
        reverse("signup"), {"email": "late@example.com", "password": PASSWORD}, REMOTE_ADDR=address
    )
    assert response.status_code == 429
    assert "Too many sign-ups from your network. Try again in 60 minutes." in response.content.decode()
    assert not get_user_model().objects.exists()


def _reset_link() -> str:
    return re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[-1].body).group(1)


def test_password_reset_by_email_link_sets_a_new_password_and_logs_in(client, make_user, address):
    make_user("ada@example.com")
    response = client.post(reverse("password_reset"), {"email": "Ada@Example.com"}, REMOTE_ADDR=address, follow=True)
    assert "If an account uses that email, a link to choose a new password is on its way." in response.content.decode()
    assert mail.outbox[-1].to == ["ada@example.com"]
    assert mail.outbox[-1].subject == "Reset your AI Product Studio password"

    form_page = client.get(_reset_link(), follow=True)
    assert "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    too_close = client.post(set_url, {"new_password1": "ada@example.com1", "new_password2": "ada@example.com1"})
    assert "The password is too similar to the email address." in too_close.content.decode()
    new = {"new_password1": "a-new-horse-staple", "new_password2": "a-new-horse-staple"}
    done = client.post(set_url, new, follow=True)
    assert "Your password is changed" in done.content.decode() and _logged_in(client)
    assert get_user_model().objects.get().check_password("a-new-horse-staple")
    client.logout()
    assert "This link no longer works" in client.get(_reset_link(), follow=True).content.decode()


def test_password_reset_for_an_unknown_email_says_the_same_and_sends_nothing(client, address):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"}, REMOTE_ADDR=address)
    assert response.status_code == 302 and response.url == reverse("password_reset_sent")
    assert mail.outbox == []


def test_reset_emails_to_one_mailbox_are_capped(client, make_user, address, clock):
    make_user("ada@example.com")
    for n in range(3):
        client.post(reverse("password_reset"), {"email": "ada@example.com"}, REMOTE_ADDR=f"{address[:-1]}{n}")
    response = client.post(reverse("password_reset"), {"email": "ada@example.com"}, REMOTE_ADDR=address)
    assert response.status_code == 429
    assert "Too many password reset emails were asked for. Try again in 60 minutes." in response.content.decode()
    assert len(mail.outbox) == 3


def test_sign_up_password_messages_name_the_email(client, address):
    response = client.post(
        reverse("signup"), {"email": "ada.lovelace@example.com", "password": "adalovelace"}, REMOTE_ADDR=address
    )
    assert "The password is too similar to the email address." in response.content.decode()
    assert "username" not in response.content.decode()
