"""The studio's only authentication backend: Django's, with failed-password throttling in front.

Every password check goes through here (the studio's login page, the admin's, any other), so no
login form can be used to guess passwords faster.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from studio.login_throttle import login_failure_record, login_success_record, login_wait_s, request_address


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or username is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        address = request_address(request)
        wait = login_wait_s(email=username, address=address)
        if wait:
            # The password is not even checked while shut, so a guess cannot succeed in the meantime.
            request.login_throttled_s = wait
            raise PermissionDenied  # stops authenticate() here; the login form explains the wait
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failure_record(email=username, address=address)
        else:
            login_success_record(email=username, address=address)
        return user
