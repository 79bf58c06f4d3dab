"""The people of the demo month: names, resident id numbers (with real check digits) and
phone numbers, drawn from a seeded random generator so the same seed gives the same city."""
from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Dict, List, Optional

from gm_contracts.validators import resident_id_check_char

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = ("建国", "秀兰", "桂英", "志强", "丽娟", "海涛", "玉梅", "国庆", "红霞", "振华",
         "春生", "淑珍", "永刚", "凤英", "德胜", "晓燕", "金花", "保国", "文斌", "素芳",
         "明亮", "翠兰", "新民", "艳玲", "学军", "桂芝", "长海", "雪梅", "子豪", "欣怡",
         "浩然", "梓涵", "宇航", "佳怡", "俊杰", "婷婷", "鹏飞", "静怡", "建军", "小红")
#: Companies and bodies that appear as respondents (business, labour, property disputes).
COMPANIES = ("鹤壁市淇河物业服务有限公司", "鹤壁市华鑫建筑工程有限公司", "浚县鑫源农资商店",
             "淇县朝歌食品有限公司", "鹤壁市天海电子科技有限公司", "鹤山区顺达运输有限公司",
             "山城区阳光幼儿园", "鹤壁市人民医院", "鹤壁宏达置业有限公司", "淇滨区红星超市")


class People:
    """Everyone the month needs, each id number used once (a repeat petition reuses a
    person on purpose; nobody else is a repeat by accident)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._used: set = set()

    def name(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def id_number(self, county: str) -> str:
        """An 18-character resident id registered in `county` (6 digits), born 1950–2004."""
        while True:
            born = date(1950, 1, 1) + timedelta(days=self.rng.randrange(55 * 365))
            first17 = f"{county}{born:%Y%m%d}{self.rng.randrange(1000):03d}"
            number = first17 + resident_id_check_char(first17)
            if number not in self._used:
                self._used.add(number)
                return number

    def phone(self) -> str:
        return self.rng.choice(("138", "139", "135", "137", "150", "151", "158", "186", "187")) \
            + f"{self.rng.randrange(10 ** 8):08d}"

    def person(self, role: str, county: str, *, identified: bool = True) -> Dict[str, str]:
        """A party; applicants give their id number and phone (as registration asks)."""
        party = {"role": role, "name": self.name()}
        if identified:
            party["id_number"] = self.id_number(county)
            party["phone"] = self.phone()
        return party

    def parties(self, county: str, respondent: Optional[str] = None,
                applicant: Optional[Dict[str, str]] = None) -> List[Dict[str, str]]:
        """An applicant (given, or a new person) and a respondent (a person, or the named
        company)."""
        first = dict(applicant) if applicant else self.person("applicant", county)
        other = {"role": "respondent", "name": respondent} if respondent else \
            self.person("respondent", county, identified=self.rng.random() < 0.5)
        return [first, other]

    def company(self) -> str:
        return self.rng.choice(COMPANIES)
