"""The organisation directory: the shipped Hebi file, its queries, and the loader's errors."""
from __future__ import annotations

import textwrap
from datetime import date

import pytest

from gm_directory import ConfigError, Liaison, load_directory
from gm_directory.vocabulary import AGENCIES, BODIES, CATEGORIES, TRACKS

# A small valid directory: city, one county, one township, one village.
MINIMAL = textwrap.dedent("""\
    units:
      - code: "410600"
        name: 鹤壁市
        level: city
        tracks: [people, administrative, judicial]
        leaders:
          - {id: L1, name: 甲, title: 市委副书记}
        handlers:
          - {id: H1, name: 乙, tracks: [people, administrative, judicial]}
      - code: "410611"
        name: 淇滨区
        level: county
        parent: "410600"
        tracks: [people, judicial]
        leaders:
          - {id: L2, name: 丙, title: 区委副书记}
        handlers:
          - {id: H2, name: 丁, tracks: [people]}
          - {id: H3, name: 戊, tracks: [judicial], office: 淇滨区人民法院诉调对接工作室}
      - code: 410611100
        name: 大赉店镇
        level: township
        parent: "410611"
        tracks: [people]
        handlers:
          - {id: H4, name: 己, tracks: [people]}
      - code: "410611100201"
        name: 大赉店村
        level: village
        parent: "410611100"
        tracks: [people]
        handlers:
          - {id: H5, name: 庚, tracks: [people]}
    """)


def line_of(text: str, fragment: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    return hits[nth - 1]


def write(tmp_path, text: str):
    path = tmp_path / "directory.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_directory(path)
    assert str(caught.value) == f"{path}:{caught.value.line}: {caught.value.field}: " \
                                f"{caught.value.problem}"
    return caught.value


# -- the shipped directory -------------------------------------------------------------------------

def test_shipped_directory_covers_hebi(directory):
    counties = {u.code for u in directory if u.level == "county"}
    assert counties == {"410602", "410603", "410611", "410621", "410622", "410671"}
    assert directory.unit("410600").level == "city"
    assert sum(u.level == "village" for u in directory) >= 2
    for code in counties:
        county = directory.unit(code)
        assert county.offers("people") and county.offers("administrative")
        if code == "410671":  # the development zone has no court: judicial goes to the city
            assert not county.offers("judicial")
            assert directory.escalation_target(code, "judicial").code == "410600"
            continue
        assert county.offers("judicial")
        assert any(h.office and "法院" in h.office for h in county.handlers_for("judicial"))
    for unit in directory:
        for track in unit.tracks:
            assert unit.handlers_for(track)


def test_shipped_directory_sets_a_body_on_every_handler(directory):
    for unit in directory:
        for handler in unit.handlers:
            assert handler.body is not None, handler.id
    judicial = [h for u in directory for h in u.handlers_for("judicial")]
    assert judicial and all(h.body == "court" for h in judicial)


def test_shipped_townships_have_a_justice_office_and_split_petition_and_police(directory):
    for unit in (u for u in directory if u.level == "township"):
        justice = unit.handlers_for("people", bodies=["justice_office"])
        assert [h.office for h in justice] == [unit.name.replace(
            "社会矛盾调解中心", "司法所").replace("人民调解委员会", "司法所")], unit.code
        assert unit.handlers_for("people", bodies=["people_mediation"])
        if unit.offers("administrative"):
            admin = unit.handlers_for("administrative")
            assert {h.body for h in admin} == {"petition_office", "police"}, unit.code
            assert not any("、" in (h.office or "") for h in admin)


def test_shipped_specialist_committees(directory):
    counties = [u for u in directory if u.level in ("county", "city") and u.code != "410671"]
    assert len(counties) == 6
    for unit in counties:
        for category, committee in (("medical", "医疗纠纷人民调解委员会"),
                                    ("traffic_accident", "道路交通事故纠纷人民调解委员会"),
                                    ("labour", "劳动人事争议人民调解委员会")):
            specialists = unit.specialists("people", category)
            assert specialists, (unit.code, category)
            assert all(h.body == "people_mediation" and committee in h.office
                       for h in specialists)
    # A medical dispute in a village goes to its county's committee; the zone relies on the city.
    assert directory.specialist_unit("410611100201", "people", "medical").code == "410611"
    assert directory.specialist_unit("410621101299", "people", "traffic_accident").code == "410621"
    assert directory.specialist_unit("410671401", "people", "labour").code == "410600"
    # Nobody below the county sits on a specialist committee (a roster mediator's
    # specialties are what they are listed for, not a committee).
    assert not any(h.specialties for u in directory if u.level in ("township", "village")
                   for h in u.handlers if h.roster is None)


def test_shipped_liaisons(directory):
    expected = {
        "410600": ("鹤壁市中级人民法院", "鹤壁市人民检察院", "鹤壁市公安局", "鹤壁市信访局"),
        "410602": ("鹤山区人民法院", "鹤山区人民检察院", "鹤壁市公安局鹤山区分局", "鹤山区信访局"),
        "410603": ("山城区人民法院", "山城区人民检察院", "鹤壁市公安局山城区分局", "山城区信访局"),
        "410611": ("淇滨区人民法院", "淇滨区人民检察院", "鹤壁市公安局淇滨区分局", "淇滨区信访局"),
        "410621": ("浚县人民法院", "浚县人民检察院", "浚县公安局", "浚县信访局"),
        "410622": ("淇县人民法院", "淇县人民检察院", "淇县公安局", "淇县信访局"),
    }
    for code, offices in expected.items():
        unit = directory.unit(code)
        assert tuple(unit.liaison(a).office for a in AGENCIES) == offices, code
    zone = directory.unit("410671")
    assert zone.liaison("court") is None and zone.liaison("procuratorate") is None
    assert zone.liaison("police") and zone.liaison("petition")
    assert not any(u.liaisons for u in directory if u.level in ("township", "village"))
    # Liaisons are not handlers: no court or procuratorate as such takes a case (the court's
    # mediation office does; petition bureau and police staff work in the centres).
    handler_offices = {h.office for u in directory for h in u.handlers}
    assert not any(li.office in handler_offices for u in directory for li in u.liaisons
                   if li.agency in ("court", "procuratorate"))


def test_unit_for_walks_up_the_code(directory):
    assert directory.unit_for("410611100201").code == "410611100201"  # listed village
    assert directory.unit_for("410611100299").code == "410611100"  # unlisted village
    assert directory.unit_for("410611888777").code == "410611"  # unlisted township too
    assert directory.unit_for("410621101").code == "410621101"  # 善堂镇
    assert directory.unit_for("410602001").code == "410602"  # 中山北路街道: not listed
    assert directory.unit_for("410600").code == "410600"
    assert directory.unit_for("410511001") is None  # 安阳: not served


def test_serves_looks_at_the_county_part(directory):
    assert directory.serves("410622202123")
    assert directory.serves("410671401")  # the development zone
    assert directory.serves("410611")
    assert not directory.serves("410511")
    assert not directory.serves("4106111")


def test_ancestors_and_escalation(directory):
    assert [u.code for u in directory.ancestors("410611100201")] == ["410611100", "410611", "410600"]
    assert directory.ancestors("410600") == []
    assert directory.parent("410622202").code == "410622"
    # 黄洞乡 offers only people's mediation: an administrative case would go to the county.
    assert directory.escalation_target("410622102201", "people").code == "410622102"
    assert directory.escalation_target("410622202", "administrative").code == "410622"
    assert directory.escalation_target("410600", "people") is None


def test_eligible_handlers(directory):
    judicial = directory.eligible_handlers("410611", "judicial")
    # the court-attached office's own, then the court's invited mediators on the roster
    assert [h.id for h in judicial] == ["H410611-01", "H410611-02", "M410611-01", "M410611-02"]
    assert directory.eligible_handlers("410611100201", "judicial") == ()
    handler, unit = directory.handler("H410611-02")
    assert unit.code == "410611" and "judicial" in handler.tracks


def test_minimal_file_loads_with_an_unquoted_code(tmp_path):
    directory = load_directory(write(tmp_path, MINIMAL))
    assert directory.unit("410611100").name == "大赉店镇"
    assert set(TRACKS) == directory.unit("410600").tracks


# -- bodies, specialties, liaisons -----------------------------------------------------------------

# MINIMAL with bodies on every handler, a medical and a traffic committee at the city, a
# medical committee at the county, and the county's liaisons.
SPECIALISED = (MINIMAL
               .replace("{id: H1, name: 乙, tracks: [people, administrative, judicial]}",
                        "{id: H1, name: 乙, tracks: [people, administrative, judicial], "
                        "body: administrative}\n"
                        "      - {id: H6, name: 辛, tracks: [people], body: people_mediation,\n"
                        "         office: 鹤壁市医疗纠纷人民调解委员会, specialties: [medical]}\n"
                        "      - {id: H7, name: 壬, tracks: [people], body: people_mediation,\n"
                        "         specialties: [traffic_accident, damages]}")
               .replace("{id: H2, name: 丁, tracks: [people]}",
                        "{id: H2, name: 丁, tracks: [people], body: people_mediation}\n"
                        "      - {id: H8, name: 癸, tracks: [people], body: people_mediation,\n"
                        "         office: 淇滨区医疗纠纷人民调解委员会, specialties: [medical]}")
               .replace("office: 淇滨区人民法院诉调对接工作室}", "office: 淇滨区人民法院诉调对接工作室, body: court}\n"
                        "    liaisons:\n"
                        "      - {agency: court, office: 淇滨区人民法院}\n"
                        "      - {agency: procuratorate, office: 淇滨区人民检察院}")
               .replace("{id: H4, name: 己, tracks: [people]}",
                        "{id: H4, name: 己, tracks: [people], body: justice_office}"))


def test_handler_body_and_specialties(tmp_path):
    directory = load_directory(write(tmp_path, SPECIALISED))
    handler, unit = directory.handler("H6")
    assert (handler.body, handler.specialties, unit.code) == (
        "people_mediation", frozenset({"medical"}), "410600")
    assert directory.handler("H7")[0].specialties == {"traffic_accident", "damages"}
    assert directory.handler("H3")[0].body == "court"
    # Both optional: a handler without them has no body and no specialties.
    plain = load_directory(write(tmp_path, MINIMAL)).handler("H2")[0]
    assert (plain.body, plain.specialties) == (None, frozenset())


def test_handlers_for_by_specialty_and_body(tmp_path):
    directory = load_directory(write(tmp_path, SPECIALISED))
    city, county = directory.unit("410600"), directory.unit("410611")
    assert [h.id for h in city.handlers_for("people")] == ["H1", "H6", "H7"]
    assert [h.id for h in city.handlers_for("people", specialty="medical")] == ["H6"]
    assert [h.id for h in city.handlers_for("people", specialty="damages")] == ["H7"]
    assert city.handlers_for("judicial", specialty="medical") == ()
    assert [h.id for h in city.handlers_for("people", bodies=["people_mediation"])] == ["H6", "H7"]
    assert [h.id for h in city.handlers_for("people", bodies={"administrative", "court"})] == ["H1"]
    assert [h.id for h in county.handlers_for("judicial", bodies=("court",))] == ["H3"]
    assert county.handlers_for("people", bodies=()) == ()
    assert [h.id for h in county.handlers_for("people", specialty="medical",
                                              bodies=["people_mediation"])] == ["H8"]
    # A handler without a body is left out once bodies are asked for.
    minimal = load_directory(write(tmp_path, MINIMAL)).unit("410611")
    assert minimal.handlers_for("people", bodies=["people_mediation"]) == ()


def test_specialists(tmp_path):
    directory = load_directory(write(tmp_path, SPECIALISED))
    assert [h.id for h in directory.unit("410600").specialists("people", "traffic_accident")] == ["H7"]
    assert [h.id for h in directory.unit("410611").specialists("people", "medical")] == ["H8"]
    assert directory.unit("410611").specialists("people", "labour") == ()
    assert directory.unit("410611").specialists("judicial", "medical") == ()


def test_specialist_unit_is_the_lowest_at_or_above_the_region(tmp_path):
    directory = load_directory(write(tmp_path, SPECIALISED))
    # The county has a medical committee: a village's medical dispute stops there.
    assert directory.specialist_unit("410611100201", "people", "medical").code == "410611"
    assert directory.specialist_unit("410611100299", "people", "medical").code == "410611"
    assert directory.specialist_unit("410611", "people", "medical").code == "410611"
    # Only the city has a traffic committee.
    assert directory.specialist_unit("410611100201", "people", "traffic_accident").code == "410600"
    assert directory.specialist_unit("410611200", "people", "traffic_accident").code == "410600"
    # Nobody has a labour committee, or a medical one on the judicial track.
    assert directory.specialist_unit("410611100201", "people", "labour") is None
    assert directory.specialist_unit("410611100201", "judicial", "medical") is None
    assert directory.specialist_unit("410511001", "people", "medical") is None  # not served


def test_liaisons(tmp_path):
    directory = load_directory(write(tmp_path, SPECIALISED))
    county = directory.unit("410611")
    assert county.liaisons == (Liaison("court", "淇滨区人民法院"),
                               Liaison("procuratorate", "淇滨区人民检察院"))
    assert county.liaison("procuratorate").office == "淇滨区人民检察院"
    assert county.liaison("police") is None
    assert directory.unit("410600").liaisons == ()
    # Liaisons are not handlers: they never get cases.
    offices = {h.office for u in directory for h in u.handlers}
    assert "淇滨区人民检察院" not in offices


def test_unknown_body(tmp_path):
    text = SPECIALISED.replace("body: justice_office", "body: justice_bureau")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "body: justice_bureau"), "units[2].handlers[0].body")
    assert err.problem == "must be one of " + ", ".join(BODIES)


def test_unknown_specialty(tmp_path):
    text = SPECIALISED.replace("specialties: [medical]}", "specialties: [hospital]}", 1)
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "specialties: [hospital]"),
                                     "units[0].handlers[1].specialties[0]")
    assert err.problem == "must be one of " + ", ".join(CATEGORIES)


def test_specialties_need_body_people_mediation(tmp_path):
    text = SPECIALISED.replace("{id: H7, name: 壬, tracks: [people], body: people_mediation,",
                               "{id: H7, name: 壬, tracks: [people], body: court,")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "specialties: [traffic_accident"),
                                     "units[0].handlers[2].specialties")
    assert err.problem == ("a handler with specialties sits on a specialist people's mediation "
                           "committee: body must be people_mediation, not court")


def test_specialties_without_a_body(tmp_path):
    text = SPECIALISED.replace("{id: H7, name: 壬, tracks: [people], body: people_mediation,",
                               "{id: H7, name: 壬, tracks: [people],")
    err = load_error(tmp_path, text)
    assert err.field == "units[0].handlers[2].specialties"
    assert err.problem.endswith("body must be people_mediation")


def test_unknown_liaison_agency(tmp_path):
    text = SPECIALISED.replace("{agency: procuratorate,", "{agency: prosecutor,")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "agency: prosecutor"), "units[1].liaisons[1].agency")
    assert err.problem == "must be one of " + ", ".join(AGENCIES)


def test_duplicate_liaison_agency(tmp_path):
    text = SPECIALISED.replace("{agency: procuratorate, office: 淇滨区人民检察院}",
                               "{agency: court, office: 鹤壁市中级人民法院}")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "鹤壁市中级人民法院"), "units[1].liaisons[1].agency")
    assert err.problem == ("duplicate liaison for agency court "
                           f"(first at line {line_of(text, 'office: 淇滨区人民法院}')})")


def test_liaison_needs_an_office(tmp_path):
    text = SPECIALISED.replace("{agency: court, office: 淇滨区人民法院}", "{agency: court}")
    err = load_error(tmp_path, text)
    assert (err.line, err.field, err.problem) == (
        line_of(text, "{agency: court}"), "units[1].liaisons[0].office", "required field missing")


# -- loader errors ---------------------------------------------------------------------------------

def test_bad_level(tmp_path):
    text = MINIMAL.replace("level: township", "level: town")
    err = load_error(tmp_path, text)
    assert err.line == line_of(text, "level: town")
    assert err.field == "units[2].level"
    assert err.problem == "must be one of village, township, county, city"


def test_level_must_agree_with_the_code(tmp_path):
    text = MINIMAL.replace("level: township", "level: county")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "level: county", nth=2), "units[2].level")
    assert err.problem == "code 410611100 denotes a township, not a county"


@pytest.mark.parametrize("bad", ['"4106111"', '"41061110A"', "[410611100]"])
def test_bad_code_format(tmp_path, bad):
    text = MINIMAL.replace("code: 410611100", f"code: {bad}")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, f"code: {bad}"), "units[2].code")
    assert "6, 9 or 12 digit" in err.problem


def test_unknown_parent(tmp_path):
    text = MINIMAL.replace('parent: "410611100"', 'parent: "410699100"')
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "410699100"), "units[3].parent")
    assert err.problem == "parent 410699100 is not a listed unit"


def test_parent_must_be_higher(tmp_path):
    text = MINIMAL.replace('parent: "410611"', 'parent: "410611100201"')
    err = load_error(tmp_path, text)
    assert err.field == "units[2].parent"
    assert err.problem == "parent 410611100201 is a village, not above a township"


def test_parent_must_be_the_nearest_listed_unit_above(tmp_path):
    text = MINIMAL.replace('parent: "410611100"', 'parent: "410611"')
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, 'parent: "410611"', nth=2), "units[3].parent")
    assert err.problem == "must be 410611100, the nearest listed unit above 410611100201"


def test_missing_parent(tmp_path):
    text = MINIMAL.replace('    parent: "410600"\n', "")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, '- code: "410611"'), "units[1].parent")
    assert err.problem == "required for a county unit"


def test_duplicate_code(tmp_path):
    text = MINIMAL + textwrap.indent(textwrap.dedent("""\
        - code: "410611100"
          name: 大赉店镇（重复）
          level: township
          parent: "410611"
          tracks: [people]
          handlers:
            - {id: H6, name: 辛, tracks: [people]}
        """), "  ")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, 'code: "410611100"'), "units[4].code")
    assert err.problem == f"duplicate code 410611100 (first at line {line_of(text, 'code: 410611100')})"


def test_duplicate_handler_id(tmp_path):
    text = MINIMAL.replace("{id: H5,", "{id: H4,")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "{id: H4,", nth=2), "units[3].handlers[0].id")
    assert err.problem.startswith("duplicate handler id H4")


def test_offered_track_needs_a_handler(tmp_path):
    text = MINIMAL.replace("tracks: [people, judicial]", "tracks: [people, administrative, judicial]")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "tracks: [people, administrative, judicial]",
                                             nth=3), "units[1].tracks")
    assert err.problem == "unit 410611 offers track administrative but has no handler for it"


def test_handler_track_must_be_offered(tmp_path):
    text = MINIMAL.replace("{id: H5, name: 庚, tracks: [people]}",
                           "{id: H5, name: 庚, tracks: [people, judicial]}")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "{id: H5"), "units[3].handlers[0].tracks")
    assert err.problem == "track judicial is not offered by unit 410611100201"


def test_unknown_track(tmp_path):
    text = MINIMAL.replace("{id: H4, name: 己, tracks: [people]}",
                           "{id: H4, name: 己, tracks: [peoples]}")
    err = load_error(tmp_path, text)
    assert err.field == "units[2].handlers[0].tracks[0]"
    assert err.problem == "must be one of people, administrative, judicial"


def test_missing_required_field_is_reported_at_its_mapping(tmp_path):
    text = MINIMAL.replace("    name: 大赉店镇\n", "")
    err = load_error(tmp_path, text)
    assert (err.line, err.field, err.problem) == (
        line_of(text, "code: 410611100"), "units[2].name", "required field missing")


def test_missing_handler_name_in_a_flow_mapping(tmp_path):
    text = MINIMAL.replace("{id: H4, name: 己, tracks: [people]}", "{id: H4, tracks: [people]}")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "{id: H4"), "units[2].handlers[0].name")


def test_unknown_field(tmp_path):
    text = MINIMAL.replace("    name: 大赉店村\n", "    name: 大赉店村\n    nmae: x\n")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "nmae"), "units[3].nmae")
    assert err.problem.startswith("unknown field; expected one of")


def test_county_needs_a_leader(tmp_path):
    text = MINIMAL.replace("    leaders:\n      - {id: L2, name: 丙, title: 区委副书记}\n", "")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, '- code: "410611"'), "units[1].leaders")
    assert err.problem.startswith("a county unit needs at least one leader")


def test_track_not_offered_above_cannot_escalate(tmp_path):
    text = (MINIMAL.replace("tracks: [people, administrative, judicial]\n", "tracks: [people, judicial]\n", 1)
            .replace("{id: H1, name: 乙, tracks: [people, administrative, judicial]}",
                     "{id: H1, name: 乙, tracks: [people, judicial]}")
            .replace("tracks: [people]\n    handlers:\n      - {id: H4, name: 己, tracks: [people]}",
                     "tracks: [people, administrative]\n    handlers:\n"
                     "      - {id: H4, name: 己, tracks: [people, administrative]}"))
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "tracks: [people, administrative]"),
                                     "units[2].tracks")
    assert err.problem == "no unit above offers track administrative, so an overdue case could not escalate"


def test_duplicate_key(tmp_path):
    text = MINIMAL.replace("    level: village\n", "    level: village\n    level: village\n")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "level: village", nth=2), "units[3].level")
    assert err.problem == f"duplicate field (first at line {line_of(text, 'level: village')})"


def test_syntax_error(tmp_path):
    text = MINIMAL.replace("name: 大赉店镇", "name: 大赉店镇: [")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_directory(path)
    assert caught.value.line == line_of(text, "大赉店镇: [")
    assert str(caught.value).startswith(f"{path}:{caught.value.line}: invalid YAML")


@pytest.mark.parametrize("text, problem", [
    ("", "the file is empty"),
    ("- just a list\n", "must be a mapping"),
    ("units: []\n", "must have at least 1 item"),
])
def test_degenerate_files(tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_directory(path)
    assert caught.value.problem == problem
    assert caught.value.line == 1


# -- the mediator roster (调解员名册, `mediators:`) ----------------------------------------------------

ENTRY = """\
  - id: M1
    name: 魏敬贤
    kind: invited_mediator
    unit: "410611"
    office: 淇滨区人民法院特邀调解员名册
    specialties: [marriage_family]
    regions: ["410611"]
    languages: [mandarin, henan_dialect]
    max_cases: 5
    unavailable:
      - {from: 2027-01-25, to: 2027-02-14, reason: 春节前后外出}
"""


def roster(*entries: str) -> str:
    return MINIMAL + "mediators:\n" + "".join(entries)


def test_an_entry_becomes_a_handler_of_its_unit_with_its_roster_entry(tmp_path):
    directory = load_directory(write(tmp_path, roster(ENTRY)))
    handler, unit = directory.mediator("M1")
    assert unit.code == "410611" and handler in unit.handlers
    assert (handler.tracks, handler.body) == ({"judicial"}, "court")
    assert handler.roster.regions == ("410611",) and handler.roster.max_cases == 5
    assert directory.mediator("H3") is None  # the court office's own handler: not on the roster
    assert [h.id for h, _ in directory.mediators()] == ["M1"]
    assert unit.specialists("people", "marriage_family") == ()  # not a committee
    assert handler.roster.region_served("410611100201") == "410611"
    assert handler.roster.region_served("410602") is None


def test_availability(tmp_path):
    entry = load_directory(write(tmp_path, roster(ENTRY))).mediator("M1")[0].roster
    assert entry.unavailable(date(2027, 1, 24), 4) is None
    assert entry.unavailable(date(2027, 1, 25), 0) == "away 2027-01-25 to 2027-02-14: 春节前后外出"
    assert entry.unavailable(date(2027, 2, 14), 0) is not None  # both days included
    assert entry.unavailable(date(2027, 3, 1), 5) == \
        "holds 5 open cases, the most they take is 5"


@pytest.mark.parametrize("change, fragment, field, problem", [
    (("unit: \"410611\"", "unit: \"410621\""), "unit:", "mediators[0].unit",
     "unit 410621 is not a listed unit"),
    (("unit: \"410611\"", "unit: \"410611100\""), "kind:", "mediators[0].kind",
     "unit 410611100 does not offer track judicial, on which an invited_mediator mediates"),
    (("kind: invited_mediator", "kind: lawyer"), "kind:", "mediators[0].kind",
     "must be one of people_mediator, invited_mediator"),
    (("regions: [\"410611\"]", "regions: [\"410602\"]"), "regions:",
     "mediators[0].regions[0]", "410602 is not within unit 410611's division"),
    (("regions: [\"410611\"]", "regions: []"), "regions:", "mediators[0].regions",
     "must have at least 1 item"),
    (("mandarin, henan_dialect", "mandarin, cantonese"), "languages:",
     "mediators[0].languages[1]",
     "must be one of mandarin, henan_dialect, sign_language, english"),
    (("specialties: [marriage_family]", "specialties: [divorce]"), "specialties:",
     "mediators[0].specialties[0]", None),
    (("max_cases: 5", "max_cases: 0"), "max_cases:", "mediators[0].max_cases",
     "must be at least 1"),
    (("to: 2027-02-14", "to: 2027-01-14"), "from: 2027", "mediators[0].unavailable[0].to",
     "ends before it starts (2027-01-25)"),
    (("    max_cases: 5\n", "    max_cases: 5\n    phone: '123'\n"), "phone:",
     "mediators[0].phone", None),
])
def test_a_malformed_roster_entry_names_its_line_and_field(tmp_path, change, fragment, field,
                                                           problem):
    text = roster(ENTRY.replace(*change))
    error = load_error(tmp_path, text)
    assert (error.field, error.line) == (field, line_of(text, fragment))
    if problem is not None:
        assert error.problem == problem


def test_a_roster_id_is_unique_among_all_handlers(tmp_path):
    text = roster(ENTRY.replace("id: M1", "id: H3"))
    error = load_error(tmp_path, text)
    assert (error.field, error.line) == ("mediators[0].id", line_of(text, "id: H3", 2))
    assert error.problem == f"duplicate handler id H3 (first at line {line_of(text, 'id: H3')})"
