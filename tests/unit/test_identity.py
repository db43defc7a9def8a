import pytest

from chalicelib.errors import BadRequest
from chalicelib.identity import check_password, normalize_username


@pytest.mark.parametrize("name", ["ab", "a" * 33, "bad name", "émile", "x/y", 5, None])
def test_bad_usernames(name):
    with pytest.raises(BadRequest):
        normalize_username(name)


def test_usernames_are_case_folded():
    assert normalize_username("Alice.B-1_") == "alice.b-1_"


@pytest.mark.parametrize("password", ["Sh0rt!", "alllower1!", "ALLUPPER1!", "NoDigits!!", "NoSymbol11", None])
def test_weak_passwords(password):
    with pytest.raises(BadRequest):
        check_password(password)


def test_a_strong_password():
    assert check_password("Passw0rd!") == "Passw0rd!"
