"""The category vocabulary of POLICY.md §2, as data."""
from django.db import migrations

CATEGORIES = [
    ("extreme_poverty", "特困人员", "civil_affairs", ""),
    ("orphan", "孤儿、事实无人抚养儿童", "civil_affairs", ""),
    ("minimum_living", "最低生活保障对象", "civil_affairs", ""),
    ("distressed_child", "困境儿童", "civil_affairs", ""),
    ("marginal_family", "低保边缘家庭成员", "civil_affairs", ""),
    ("low_income_family", "城乡低收入家庭救助人员", "civil_affairs", ""),
    ("hardship_allowance", "生活困难补助人员", "civil_affairs", ""),
    ("disabled_returned_youth", "民政管理的因公(病)致残返城知青", "civil_affairs", ""),
    ("downsized_1960s_worker", "20世纪60年代精减退职职工", "civil_affairs", ""),
    ("expenditure_hardship_patient", "支出型困难家庭中的大重病患者", "civil_affairs", "medical_security"),
    ("temporary_relief_patient", "临时救助对象中的大重病患者", "civil_affairs", "medical_security"),
    ("illness_poverty_patient", "因病致贫家庭重病患者", "civil_affairs", "medical_security"),
    ("veteran_party_member", "农村建国前入党的老党员、老游击队员、老交通员", "civil_affairs", ""),
    ("entitled_group", "享受国家抚恤补助的优抚对象", "veterans_affairs", ""),
    ("hardship_worker", "总工会核定的特困职工", "trade_union", ""),
    ("severe_disability", "符合条件的重度残疾人", "disabled_persons_federation", ""),
    ("disability_allowance", "享受困难残疾人生活补贴人员", "disabled_persons_federation", ""),
    ("returned_to_poverty", "返贫致贫人口", "rural_revitalization", ""),
    ("monitored_rural", "防止返贫监测对象", "rural_revitalization", ""),
    ("hiv_patient", "艾滋病机会性感染者和病人", "health", ""),
    ("good_samaritan", "见义勇为者", "public_security", ""),
    ("other_special", "县级以上政府规定的其他特殊困难人员", "civil_affairs", ""),
]


def load(apps, schema_editor):
    Category = apps.get_model("beneficiaries", "Category")
    for order, (code, name, agency, co_agency) in enumerate(CATEGORIES, start=1):
        Category.objects.update_or_create(
            code=code, defaults={"name": name, "agency_kind": agency, "co_agency_kind": co_agency, "sort_order": order}
        )


class Migration(migrations.Migration):
    dependencies = [("beneficiaries", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
