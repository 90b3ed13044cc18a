"""Issue 15, item "Login": staff have a password-change page, linked from the user menu."""
import pytest
from django.urls import reverse

from organizations import roles
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def test_password_change_page_is_linked_from_the_user_menu_and_changes_the_password(client, district):
    user = make_staff(roles.CASEWORKER, district=district, username="pw-user")
    client.force_login(user)
    home = client.get(reverse("home")).content.decode()
    assert reverse("password_change") in home and "修改密码" in home
    page = client.get(reverse("password_change"))
    assert page.status_code == 200 and "旧密码" in page.content.decode()  # Django's form, in Chinese
    response = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "Qiuzhi-ruke-2026", "new_password2": "Qiuzhi-ruke-2026"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "密码已修改" in response.content.decode()  # and the user is still signed in
    user.refresh_from_db()
    assert user.check_password("Qiuzhi-ruke-2026")


def test_password_change_refuses_a_wrong_old_password_and_a_weak_new_one(client, district):
    user = make_staff(roles.CASEWORKER, district=district, username="pw-user2")
    client.force_login(user)
    wrong = client.post(reverse("password_change"), {
        "old_password": "nope", "new_password1": "Qiuzhi-ruke-2026", "new_password2": "Qiuzhi-ruke-2026"})
    weak = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"})
    assert wrong.status_code == 200 and "old_password" in wrong.context["form"].errors
    assert weak.status_code == 200 and "new_password2" in weak.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_needs_login(client):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
