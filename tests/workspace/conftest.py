"""Fixtures shared by the workspace tests: a petition, its organiser and its moderator."""

import pytest

from campaign.accounts.services import assign_moderator
from tests.factories import make_petition, make_user


@pytest.fixture
def owner(app):
    return make_user("organiser")


@pytest.fixture
def petition(owner):
    return make_petition(owner_id=owner.id)


@pytest.fixture
def moderator(petition):
    user = make_user("moderator")
    assign_moderator(petition, user)
    return user
