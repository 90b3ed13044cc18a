import pytest
from django.urls import reverse

from beneficiaries import services
from tests.factories import CertificationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_admin_lists_mask_id_numbers_and_show_reveal_log(client, person, caseworker):
    CertificationFactory(person=person)
    services.id_number_reveal(user=caseworker, person=person, purpose="verify_identity")
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    for model in ("person", "certification", "importbatch", "idreveallog", "household", "category"):
        response = client.get(reverse(f"admin:beneficiaries_{model}_changelist"))
        assert response.status_code == 200, model
        assert person.id_number not in response.content.decode(), model
    body = client.get(reverse("admin:beneficiaries_idreveallog_changelist")).content.decode()
    assert "核对" in body


def test_admin_cannot_delete_registry_rows(client, person):
    CertificationFactory(person=person)
    admin = UserFactory(username="root2", is_staff=True, is_superuser=True)
    client.force_login(admin)
    for model, pk in (("person", person.pk), ("certification", person.certifications.get().pk)):
        assert client.get(reverse(f"admin:beneficiaries_{model}_delete", args=[pk])).status_code == 403
