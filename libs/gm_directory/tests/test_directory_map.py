"""The shipped map (deploy/directory.yaml) against the national division codes.

`data/hebi-divisions.csv` is the National Bureau of Statistics' 统计用区划代码 for Hebi down to
townships (see data/README.md). Every city, county and township unit must carry a real code
and the name of that division; villages are illustrative (the data has no village codes)
and are only checked to sit under a real township.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, NamedTuple

import pytest

DIVISIONS_CSV = Path(__file__).resolve().parent / "data" / "hebi-divisions.csv"


class Division(NamedTuple):
    code: str
    name: str
    parent: str
    level: str


@pytest.fixture(scope="module")
def divisions() -> Dict[str, Division]:
    with DIVISIONS_CSV.open(encoding="utf-8", newline="") as f:
        rows = [Division(r["code"], r["name"], r["parent_code"], r["level"])
                for r in csv.DictReader(f)]
    assert rows and len({r.code for r in rows}) == len(rows)
    return {r.code: r for r in rows}


# Pinned here, not only read from the data: codes the directory once had wrong, and the
# development zone it once left out.
PINNED = [
    ("410621101", "善堂镇"),
    ("410621102", "屯子镇"),
    ("410621104", "新镇镇"),
    ("410622102", "北阳镇"),
    ("410622103", "西岗镇"),
    ("410622202", "黄洞乡"),
    ("410602002", "中山路街道"),
    ("410602201", "姬家山乡"),
    ("410621002", "浚州街道"),
    ("410603001", "红旗街街道"),
    ("410671", "鹤壁经济技术开发区"),
]


@pytest.mark.parametrize("code, name", PINNED, ids=[code for code, _ in PINNED])
def test_pinned_codes_route_to_their_own_unit(directory, divisions, code, name):
    assert divisions[code].name == name  # the copy of the national data agrees
    unit = directory.unit_for(code)
    assert unit is not None and unit.code == code
    assert name in unit.name


def test_a_village_under_shantang_falls_to_shantang(directory):
    unit = directory.unit_for("410621101299")  # an unlisted village of 善堂镇
    assert unit.code == "410621101" and "善堂镇" in unit.name


def test_every_listed_division_is_real_and_named_as_in_the_data(directory, divisions):
    for unit in directory:
        if unit.level == "village":
            continue
        assert unit.code in divisions, f"{unit.code} {unit.name}: not a national division code"
        division = divisions[unit.code]
        assert division.level == unit.level, unit.code
        assert division.name in unit.name, f"{unit.code}: {unit.name!r} lacks {division.name!r}"
        if unit.level == "township":  # "<township name>社会矛盾调解中心 / 人民调解委员会"
            assert unit.name.startswith(division.name), unit.code


def test_township_offices_carry_the_division_name(directory, divisions):
    for unit in directory:
        if unit.level != "township":
            continue
        name = divisions[unit.code].name
        for handler in unit.handlers:
            assert handler.office and handler.office.startswith(name), handler.id


def test_villages_sit_under_a_real_township(directory, divisions):
    villages = [u for u in directory if u.level == "village"]
    assert villages
    for unit in villages:
        assert divisions[unit.code[:9]].level == "township", unit.code
        assert unit.parent == unit.code[:9]


def test_every_county_of_hebi_is_served(directory, divisions):
    counties = [d for d in divisions.values() if d.level == "county"]
    assert "410671" in {d.code for d in counties}
    for county in counties:
        assert directory.serves(county.code), county
        unit = directory.unit_for(county.code)
        assert unit.code == county.code and unit.level == "county"
        assert unit.leaders and unit.handlers_for("people")
    # Every township of the data is served too: by its own unit or its county's.
    for division in divisions.values():
        if division.level == "township":
            assert directory.unit_for(division.code).code in (division.code, division.parent)
