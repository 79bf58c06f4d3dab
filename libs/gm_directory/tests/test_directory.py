"""The organisation directory: the shipped Hebi file, its queries, and the loader's errors."""
from __future__ import annotations

import textwrap

import pytest

from gm_directory import ConfigError, load_directory
from gm_directory.vocabulary import TRACKS

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
    assert counties == {"410602", "410603", "410611", "410621", "410622"}
    assert directory.unit("410600").level == "city"
    assert sum(u.level == "village" for u in directory) >= 2
    for code in counties:
        county = directory.unit(code)
        assert county.offers("judicial") and county.offers("administrative")
        assert any(h.office and "法院" in h.office for h in county.handlers_for("judicial"))
    for unit in directory:
        for track in unit.tracks:
            assert unit.handlers_for(track)


def test_unit_for_walks_up_the_code(directory):
    assert directory.unit_for("410611100201").code == "410611100201"  # listed village
    assert directory.unit_for("410611100299").code == "410611100"  # unlisted village
    assert directory.unit_for("410611888777").code == "410611"  # unlisted township too
    assert directory.unit_for("410621101").code == "410621101"
    assert directory.unit_for("410600").code == "410600"
    assert directory.unit_for("410511001") is None  # 安阳: not served


def test_serves_looks_at_the_county_part(directory):
    assert directory.serves("410622200123")
    assert directory.serves("410611")
    assert not directory.serves("410511")
    assert not directory.serves("4106111")


def test_ancestors_and_escalation(directory):
    assert [u.code for u in directory.ancestors("410611100201")] == ["410611100", "410611", "410600"]
    assert directory.ancestors("410600") == []
    assert directory.parent("410622200").code == "410622"
    # 黄洞乡 offers only people's mediation: an administrative case would go to the county.
    assert directory.escalation_target("410622100201", "people").code == "410622100"
    assert directory.escalation_target("410622200", "administrative").code == "410622"
    assert directory.escalation_target("410600", "people") is None


def test_eligible_handlers(directory):
    judicial = directory.eligible_handlers("410611", "judicial")
    assert [h.id for h in judicial] == ["H410611-01", "H410611-02"]
    assert directory.eligible_handlers("410611100201", "judicial") == ()
    handler, unit = directory.handler("H410611-02")
    assert unit.code == "410611" and "judicial" in handler.tracks


def test_minimal_file_loads_with_an_unquoted_code(tmp_path):
    directory = load_directory(write(tmp_path, MINIMAL))
    assert directory.unit("410611100").name == "大赉店镇"
    assert set(TRACKS) == directory.unit("410600").tracks


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
