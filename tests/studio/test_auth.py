from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_signup_creates_account_logs_in_and_asks_for_a_team(client):
    response = client.post(
        reverse("signup"),
        {"name": "Ada", "email": "Ada@Example.com", "password": PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("team_new")
    user = get_user_model().objects.get()
    assert (user.email, user.username, user.first_name) == ("ada@example.com",) * 2 + ("Ada",)
    assert response.context["user"] == user


def test_signup_rejects_existing_email_with_a_message_and_creates_nothing(client, make_user):
    make_user("ada@example.com")
    response = client.post(
        reverse("signup"), {"email": "ada@example.com", "password": PASSWORD}
    )
    assert "An account with this email already exists. Log in instead." in response.content.decode()
    assert get_user_model().objects.count() == 1


def test_signup_rejects_weak_password_with_the_reason(client):
    response = client.post(reverse("signup"), {"email": "bob@example.com", "password": "12345678"})
    assert "This password is entirely numeric." in response.content.decode()
    assert not get_user_model().objects.exists()


def test_signup_accepts_an_email_with_an_apostrophe_and_logs_in_with_it(client):
    # Django's username rules refuse "'", and the 500 that followed named a "username" nobody sees.
    response = client.post(reverse("signup"), {"email": "o'brien@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert get_user_model().objects.get().username == "o'brien@example.com"
    client.post(reverse("logout"))
    again = client.post(reverse("login"), {"username": "o'brien@example.com", "password": PASSWORD}, follow=True)
    assert again.context["user"].is_authenticated


def test_signup_with_a_too_long_email_names_the_email_never_a_username(client):
    email = "a" * 140 + "@example.com"
    response = client.post(reverse("signup"), {"email": email, "password": PASSWORD})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Use an email address of at most 150 characters; this one has 152." in page
    assert "username" not in page.lower().replace('autocomplete="username"', "")
    assert not get_user_model().objects.exists()


def test_a_password_like_the_email_is_refused_in_words_about_the_email(client):
    response = client.post(reverse("signup"), {"email": "grace.hopper@example.com",
                                               "password": "grace.hopper@example"})
    page = response.content.decode()
    assert "The password is too similar to the email address." in page and "username" not in page.lower()


def test_login_with_email_then_logout(client, make_user):
    make_user("carol@example.com")
    response = client.post(
        reverse("login"), {"username": "Carol@example.com", "password": PASSWORD}, follow=True
    )
    assert response.context["user"].is_authenticated
    client.post(reverse("logout"))
    assert not client.get(reverse("home")).context["user"].is_authenticated


def test_login_with_wrong_password_says_so(client, make_user):
    make_user("dan@example.com")
    response = client.post(reverse("login"), {"username": "dan@example.com", "password": "nope"})
    assert "That email and password do not match. Passwords are case-sensitive." in response.content.decode()


def test_signup_keeps_a_safe_next_and_drops_a_foreign_one(client):
    ok = client.post(
        reverse("signup") + "?next=/teams/new/",
        {"email": "e@example.com", "password": PASSWORD, "next": "/teams/new/"},
    )
    assert ok.url == "/teams/new/"
    client.logout()
    evil = client.post(
        reverse("signup"),
        {"email": "f@example.com", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert evil.url == reverse("home")
