"""Two administrators revising the same version at once: one new version, never two current ones."""
import threading
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from policies.models import Policy
from policies.services import policy_revise
from tests.conftest import requires_postgres


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_revisions_make_one_version(administrator):
    beijing = Policy.objects.get(code="beijing-2023", is_current=True)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def revise(note):
        try:
            barrier.wait()
            policy_revise(policy=beijing, rules=beijing.rules, effective_from=date(2024, 1, 1), note=note,
                          by=administrator)
            outcomes.append("saved")
        except ValidationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=revise, args=(f"n{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["not_current", "saved"]
    assert Policy.objects.filter(code="beijing-2023", is_current=True).count() == 1
    assert Policy.objects.filter(code="beijing-2023").count() == 2
