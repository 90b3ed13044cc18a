"""ID and bank account numbers encrypted at rest, looked up through a keyed hash
(organizations.fieldcrypto, docs/security.md "Encryption at rest")."""
import base64
import hashlib
import hmac
import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from beneficiaries.models import Person
from claims.models import PayeeAccount
from claims.payments import payee_account_record
from organizations import fieldcrypto
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

OTHER_KEY = base64.b64encode(b"another-field-encryption-key-32b").decode()
OTHER_HASH_KEY = base64.b64encode(b"another-field-hash-key-32-bytes!").decode()


def stored(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - test, fixed names
        return cursor.fetchone()[0]


def test_id_number_is_stored_encrypted_and_read_in_clear():
    person = PersonFactory()
    raw = stored("beneficiaries_person", "id_number", person.pk)
    assert raw.startswith("a1:") and person.id_number not in raw
    assert Person.objects.get(pk=person.pk).id_number == person.id_number
    key = base64.b64decode(settings.FIELD_HASH_KEY)
    expected = hmac.new(key, person.id_number.encode(), hashlib.sha256).hexdigest()
    assert stored("beneficiaries_person", "id_number_hash", person.pk) == expected


def test_the_same_number_encrypts_differently_each_time():
    assert fieldcrypto.encrypt("110105197001010011") != fieldcrypto.encrypt("110105197001010011")


def test_history_rows_hold_the_number_encrypted_too():
    person = PersonFactory()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number FROM beneficiaries_historicalperson WHERE id = %s", [person.pk])
        rows = [r[0] for r in cursor.fetchall()]
    assert rows and all(r.startswith("a1:") and person.id_number not in r for r in rows)
    assert person.history.first().id_number == person.id_number


def test_bank_account_number_is_stored_encrypted(caseworker):
    person = PersonFactory()
    account = payee_account_record(person=person, account_name=person.name, account_number="6222 0202 0000 1234 567",
                                   by=caseworker)
    raw = stored("claims_payeeaccount", "account_number", account.pk)
    assert raw.startswith("a1:") and "62220202" not in raw
    assert PayeeAccount.objects.get(pk=account.pk).account_number == "6222020200001234567"
    assert PayeeAccount.objects.filter(account_number="6222020200001234567").get() == account


def test_lookup_by_id_number_goes_through_the_hash():
    person = PersonFactory()
    with CaptureQueriesContext(connection) as queries:
        assert Person.objects.filter(id_number=person.id_number).get() == person
    sql = queries.captured_queries[-1]["sql"]
    assert "id_number_hash" in sql and person.id_number not in sql
    assert fieldcrypto.blind_index(person.id_number) in sql


def test_in_iexact_and_related_lookups_go_through_the_hash():
    a, b = PersonFactory(), PersonFactory()
    assert set(Person.objects.filter(id_number__in=[a.id_number, b.id_number, "110105199001010000"])) == {a, b}
    assert Person.objects.get(id_number__iexact=a.id_number.lower()) == a
    assert Person.objects.filter(id_number__in=[]).count() == 0
    assert Person.objects.filter(id_number=None).count() == 0


def test_search_by_the_last_four_digits_uses_the_tail_hash():
    person = PersonFactory()
    with CaptureQueriesContext(connection) as queries:
        found = list(Person.objects.filter(id_number__endswith=person.id_number[-4:]))
    assert person in found
    assert "id_number_tail_hash" in queries.captured_queries[-1]["sql"]


@pytest.mark.parametrize("lookup", ["contains", "icontains", "startswith", "gt"])
def test_lookups_that_would_compare_ciphertext_are_refused(lookup):
    with pytest.raises(TypeError):
        list(Person.objects.filter(**{f"id_number__{lookup}": "1101"}))
    with pytest.raises(TypeError):
        list(Person.objects.filter(id_number__endswith="01011"))  # only the four digits of the mask


def test_two_persons_cannot_share_a_number():
    person = PersonFactory()
    clone = PersonFactory.build(id_number=person.id_number, hukou_district=person.hukou_district)
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


def test_a_wrong_key_fails_loudly_not_with_garbage():
    token = fieldcrypto.encrypt("110105197001010011")
    with override_settings(FIELD_ENCRYPTION_KEY=OTHER_KEY), pytest.raises(fieldcrypto.DecryptionError):
        fieldcrypto.decrypt(token)


@override_settings(FIELD_ENCRYPTION_ALGORITHM="sm4-gcm")
def test_sm4_gcm_with_hmac_sm3_for_a_deployment_whose_assessment_requires_it():
    person = PersonFactory()
    raw = stored("beneficiaries_person", "id_number", person.pk)
    assert raw.startswith("s1:") and person.id_number not in raw
    assert Person.objects.get(id_number=person.id_number) == person
    assert len(stored("beneficiaries_person", "id_number_hash", person.pk)) == 64
    assert fieldcrypto.hash_algorithm() == "hmac-sm3"


def test_data_migration_encrypts_plain_rows_and_fills_the_hashes():
    person = PersonFactory()
    number = person.id_number
    with connection.cursor() as cursor:  # a row as it was before the migration
        cursor.execute("UPDATE beneficiaries_person SET id_number = %s, id_number_hash = '', id_number_tail_hash = '' "
                       "WHERE id = %s", [number, person.pk])
    fieldcrypto.encrypt_column(Person, "id_number")
    assert stored("beneficiaries_person", "id_number", person.pk).startswith("a1:")
    assert Person.objects.get(id_number=number) == person
    assert Person.objects.filter(id_number__endswith=number[-4:]).filter(pk=person.pk).exists()
    fieldcrypto.decrypt_column(Person, "id_number")  # the reverse migration
    assert stored("beneficiaries_person", "id_number", person.pk) == number


def test_key_rotation_with_reencrypt_numbers():
    person = PersonFactory()
    old_key = settings.FIELD_ENCRYPTION_KEY
    with override_settings(FIELD_ENCRYPTION_KEY=OTHER_KEY, FIELD_HASH_KEY=OTHER_HASH_KEY,
                           FIELD_ENCRYPTION_OLD_KEYS=[old_key]):
        call_command("reencrypt_numbers", stdout=io.StringIO())
        assert Person.objects.get(id_number=person.id_number) == person
    with override_settings(FIELD_ENCRYPTION_KEY=OTHER_KEY, FIELD_HASH_KEY=OTHER_HASH_KEY):
        assert Person.objects.get(pk=person.pk).id_number == person.id_number  # the old key is no longer needed


def test_id_number_search_form_and_duplicate_check_still_work(client, caseworker):
    from django.urls import reverse

    person = PersonFactory(hukou_district=caseworker.staff_profile.district)
    client.force_login(caseworker)
    response = client.post(reverse("search_go"), {"q": person.id_number})
    page = client.get(response["Location"])
    assert person.name in page.content.decode()
