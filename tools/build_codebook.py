#!/usr/bin/env python3
"""Build ``src/valuesim/survey/data/codebook_wvs7.json`` and check it against real WVS-7 data.

The WVS-7 master questionnaire (English, 2017-2022) is written down below as a compact
specification: topic sections, batteries (a shared stem and answer scale with several items)
and single questions. The wording follows the questionnaire; interviewer instructions
("read out", "code one answer") are left out because they are not read to the respondent.
Short stand-alone phrasings (``short``) are ours.

Usage (build time only; the package never reads these paths at run time)::

    python tools/build_codebook.py                       # write the JSON
    python tools/build_codebook.py --check DATA_DIR      # + report undeclared codes per question
    python tools/build_codebook.py --check DATA_DIR --strict   # exit 1 on unexplained codes

``--languages-from DATA_DIR`` (default: the ``--check`` dir, else ../shared/wvs7/dev) is needed
to label Q272 (language at home): its codes are the WVS language list, the same list the data
uses for the interview language (S_INTLANGUAGE), whose ISO 639 code is in LNGE_ISO. Codes seen as
interview languages get a name; see docs/codebook.md.
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_PKG = ROOT / "src" / "valuesim" / "survey" / "data"
OUT = DATA_PKG / "codebook_wvs7.json"
COUNTRIES = DATA_PKG / "countries.json"
DEFAULT_DATA = ROOT.parent / "shared" / "wvs7" / "dev"

SOURCE = (
    "Question wording and answer codes: World Values Survey Wave 7 (2017-2022) Master Survey "
    "Questionnaire, English version (WVS Association). Codes as in Haerpfer, C., Inglehart, R., "
    "Moreno, A., Welzel, C., Kizilova, K., Diez-Medrano, J., Lagos, M., Norris, P., Ponarin, E. & "
    "Puranen, B. (eds.) 2022. World Values Survey: Round Seven - Country-Pooled Datafile "
    "Version 5.0. Madrid, Spain & Vienna, Austria: JD Systems Institute & WVSA Secretariat. "
    "doi:10.14281/18241.20. Short phrasings, kinds and notes: ValueSim."
)

MISSING = {
    "-1": "Don't know",
    "-2": "No answer",
    "-3": "Not applicable",
    "-4": "Not asked in survey",
    "-5": "Missing; Unknown",
}

SECTIONS: list[tuple[str, str, int, int]] = [
    ("social_values", "Social values, attitudes and stereotypes", 1, 45),
    ("wellbeing", "Happiness and well-being", 46, 56),
    ("social_capital", "Social capital, trust and organizational membership", 57, 105),
    ("economic_values", "Economic values", 106, 111),
    ("corruption", "Corruption", 112, 120),
    ("migration", "Migration", 121, 130),
    ("security", "Security", 131, 151),
    ("postmaterialism", "Postmaterialist index", 152, 157),
    ("science_technology", "Science and technology", 158, 163),
    ("religious_values", "Religious values", 164, 175),
    ("ethical_values", "Ethical values and norms", 176, 198),
    ("political_participation", "Political interest and political participation", 199, 234),
    ("political_culture", "Political culture and political regimes", 235, 259),
    ("demographics", "Demographics", 260, 290),
]
PROFILE_FIRST = 260


def section_of(n: int) -> str:
    for sid, _title, lo, hi in SECTIONS:
        if lo <= n <= hi:
            return sid
    raise ValueError(f"Q{n} has no section")


# ---------------------------------------------------------------------------------------------
# answer scales


def opts(*labels: str, start: int = 1) -> dict[int, str]:
    return {start + i: lab for i, lab in enumerate(labels)}


def scale10(low: str, high: str) -> dict[int, str]:
    """1-10 rating scale: labelled ends, middle points as plain numbers."""
    return {1: low, **{i: str(i) for i in range(2, 10)}, 10: high}


IMPORTANCE = opts("Very important", "Rather important", "Not very important", "Not at all important")
MENTIONED = opts("Mentioned", "Not mentioned")
YES_NO = opts("Yes", "No")
AGREE4 = opts("Strongly agree", "Agree", "Disagree", "Strongly disagree")
AGREE5 = opts("Agree strongly", "Agree", "Neither agree nor disagree", "Disagree", "Disagree strongly")
TRUST4 = opts("Trust completely", "Trust somewhat", "Do not trust very much", "Do not trust at all")
CONFIDENCE = opts("A great deal", "Quite a lot", "Not very much", "None at all")
MEMBERSHIP = {0: "Don't belong", 1: "Inactive member", 2: "Active member"}
HOW_MANY = opts("None of them", "Few of them", "Most of them", "All of them")
IMMIG_AGREE = {0: "Disagree", 1: "Hard to say", 2: "Agree"}
FREQ_NEIGH = opts("Very frequently", "Quite frequently", "Not frequently", "Not at all frequently")
WORRY = opts("Very much", "A good deal", "Not much", "Not at all")
POSTMAT1 = opts(
    "A high level of economic growth",
    "Making sure this country has strong defense forces",
    "Seeing that people have more say about how things are done at their jobs and in their communities",
    "Trying to make our cities and countryside more beautiful",
)
POSTMAT2 = opts(
    "Maintaining order in the nation",
    "Giving people more say in important government decisions",
    "Fighting rising prices",
    "Protecting freedom of speech",
)
POSTMAT3 = opts(
    "A stable economy",
    "Progress toward a less impersonal and more humane society",
    "Progress toward a society in which ideas count more than money",
    "The fight against crime",
)
GOV_RIGHT = opts(
    "Definitely should have the right",
    "Probably should have the right",
    "Probably should not have the right",
    "Definitely should not have the right",
)
INFO_FREQ = opts("Daily", "Weekly", "Monthly", "Less than monthly", "Never")
ACTION = opts("Have done", "Might do", "Would never do")
VOTE = opts("Always", "Usually", "Never", "Not allowed to vote")
ELECTION_FREQ = opts("Very often", "Fairly often", "Not often", "Not at all often")
REGIME = opts("Very good", "Fairly good", "Fairly bad", "Very bad")
DEMOCRACY_ESSENTIAL = {
    0: "It is against democracy",
    **scale10("Not an essential characteristic of democracy", "An essential characteristic of democracy"),
}
CLOSENESS = opts("Very close", "Close", "Not very close", "Not close at all")
BORN = opts("Born in this country", "Immigrant to this country (born outside this country)")
EDUCATION = opts(
    "Early childhood education (ISCED 0) / no education",
    "Primary education (ISCED 1)",
    "Lower secondary education (ISCED 2)",
    "Upper secondary education (ISCED 3)",
    "Post-secondary non-tertiary education (ISCED 4)",
    "Short-cycle tertiary education (ISCED 5)",
    "Bachelor or equivalent (ISCED 6)",
    "Master or equivalent (ISCED 7)",
    "Doctoral or equivalent (ISCED 8)",
    start=0,
)
EMPLOYMENT = opts(
    "Full time employee (30 hours a week or more)",
    "Part time employee (less than 30 hours a week)",
    "Self employed",
    "Retired/pensioned",
    "Housewife not otherwise employed",
    "Student",
    "Unemployed",
    "Other",
)
OCCUPATION = {
    0: "Never had a job",
    1: "Professional and technical (for example: doctor, teacher, engineer, artist, accountant, nurse)",
    2: "Higher administrative (for example: banker, executive in big business, high government "
    "official, union official)",
    3: "Clerical (for example: secretary, clerk, office manager, civil servant, bookkeeper)",
    4: "Sales (for example: sales manager, shop owner, shop assistant, insurance agent, buyer)",
    5: "Service (for example: restaurant owner, police officer, waitress, barber, caretaker)",
    6: "Skilled worker (for example: foreman, motor mechanic, printer, seamstress, tool and die maker, electrician)",
    7: "Semi-skilled worker (for example: bricklayer, bus driver, cannery worker, carpenter, sheet "
    "metal worker, baker)",
    8: "Unskilled worker (for example: laborer, porter, unskilled factory worker, cleaner)",
    9: "Farm worker (for example: farm laborer, tractor driver)",
    10: "Farm proprietor, farm manager",
    11: "Other occupation (not in the master list)",
}
OCCUPATION_NOTE = (
    "Code 11 is not in the master questionnaire; it occurs in the pooled data for a few countries "
    "(in the development data: CZE, JPN, KEN, MAC, TJK, URY). Its holders are mostly students and "
    "unemployed people with no employment sector, so it is labelled as an other/unclassified "
    "occupation, not as a trade."
)


# ---------------------------------------------------------------------------------------------
# the instrument


@dataclass
class Spec:
    qid: str
    text: str
    short: str
    kind: str
    options: dict[int, str] = field(default_factory=dict)
    value_range: tuple[int, int] | None = None
    note: str = ""
    #: the item's codes are a country-specific list of which only some codes are labelled
    open_codes: bool = False


SPECS: list[Spec] = []


def single(
    n: int,
    text: str,
    short: str,
    kind: str,
    options: dict[int, str] | None = None,
    value_range: tuple[int, int] | None = None,
    note: str = "",
) -> None:
    SPECS.append(Spec(f"Q{n}", text, short, kind, dict(options or {}), value_range, note))


def battery(
    stem: str,
    lead: str,
    kind: str,
    options: dict[int, str],
    items: list[tuple[int, str, str]],
    notes: dict[int, str] | None = None,
) -> None:
    """Items share a stem and answer scale. ``lead`` formats the item, e.g. 'Statement: "{}"'."""
    for n, item, short in items:
        text = f"{stem} {lead.format(item)}"
        SPECS.append(Spec(f"Q{n}", text, short, kind, dict(options), None, (notes or {}).get(n, "")))


def important(what: str) -> str:
    return f"How important is {what} in your life?"


# --- Social values, attitudes & stereotypes (Q1-Q45) ---------------------------------------
battery(
    "For each of the following, indicate how important it is in your life. Would you say it is "
    "very important, rather important, not very important or not important at all?",
    "{}",
    "ordinal",
    IMPORTANCE,
    [
        (1, "Family", important("family")),
        (2, "Friends", important("friends")),
        (3, "Leisure time", important("leisure time")),
        (4, "Politics", important("politics")),
        (5, "Work", important("work")),
        (6, "Religion", important("religion")),
    ],
)
CHILD_STEM = (
    "Here is a list of qualities that children can be encouraged to learn at home. Which, if any, "
    "do you consider to be especially important? Please choose up to five!"
)
battery(
    CHILD_STEM,
    "Quality: {}",
    "nominal",
    MENTIONED,
    [
        (n, item, f"Do you name {phrase} as an especially important quality for children to learn at home?")
        for n, item, phrase in [
            (7, "Good manners", "good manners"),
            (8, "Independence", "independence"),
            (9, "Hard work", "hard work"),
            (10, "Feeling of responsibility", "a feeling of responsibility"),
            (11, "Imagination", "imagination"),
            (12, "Tolerance and respect for other people", "tolerance and respect for other people"),
            (13, "Thrift, saving money and things", "thrift (saving money and things)"),
            (14, "Determination, perseverance", "determination and perseverance"),
            (15, "Religious faith", "religious faith"),
            (16, "Not being selfish (unselfishness)", "unselfishness"),
            (17, "Obedience", "obedience"),
        ]
    ],
)
battery(
    "On this list are various groups of people. Could you please mention any that you would not "
    "like to have as neighbors?",
    "Group: {}",
    "nominal",
    MENTIONED,
    [
        (n, item, f"Would you not like to have {phrase} as neighbors?")
        for n, item, phrase in [
            (18, "Drug addicts", "drug addicts"),
            (19, "People of a different race", "people of a different race"),
            (20, "People who have AIDS", "people who have AIDS"),
            (21, "Immigrants/foreign workers", "immigrants or foreign workers"),
            (22, "Homosexuals", "homosexuals"),
            (23, "People of a different religion", "people of a different religion"),
            (24, "Heavy drinkers", "heavy drinkers"),
            (25, "Unmarried couples living together", "unmarried couples living together"),
            (26, "People who speak a different language", "people who speak a different language"),
        ]
    ],
)


def agree(statement: str) -> str:
    return f'How much do you agree or disagree: "{statement}"?'


S27 = [
    (27, "One of my main goals in life has been to make my parents proud"),
    (28, "When a mother works for pay, the children suffer"),
    (29, "On the whole, men make better political leaders than women do"),
    (30, "A university education is more important for a boy than for a girl"),
    (31, "On the whole, men make better business executives than women do"),
    (32, "Being a housewife is just as fulfilling as working for pay"),
]
battery(
    "For each of the following statements I read out, can you tell me how strongly you agree or "
    "disagree with each. Do you strongly agree, agree, disagree, or strongly disagree?",
    'Statement: "{}"',
    "ordinal",
    AGREE4,
    [(n, s, agree(s)) for n, s in S27],
)
S33 = [
    (33, "When jobs are scarce, men should have more right to a job than women"),
    (34, "When jobs are scarce, employers should give priority to people of this country over immigrants"),
    (35, "If a woman earns more money than her husband, it's almost certain to cause problems"),
    (36, "Homosexual couples are as good parents as other couples"),
    (37, "It is a duty towards society to have children"),
    (38, "Adult children have the duty to provide long-term care for their parents"),
    (39, "People who don't work turn lazy"),
    (40, "Work is a duty towards society"),
    (41, "Work should always come first, even if it means less spare time"),
]
battery(
    "How would you feel about the following statements? Do you agree or disagree with them?",
    'Statement: "{}"',
    "ordinal",
    AGREE5,
    [(n, s, agree(s)) for n, s in S33],
    notes={n: f"The data file also has {f'Q{n}_3'}, a 3-point recode of this item (excluded)." for n in (33, 34, 35)},
)
single(
    42,
    "On this card are three basic kinds of attitudes concerning the society we live in. Please "
    "choose the one which best describes your own opinion.",
    "Which basic attitude towards the society we live in best describes your opinion?",
    "ordinal",
    opts(
        "The entire way our society is organized must be radically changed by revolutionary action",
        "Our society must be gradually improved by reforms",
        "Our present society must be valiantly defended against all subversive forces",
    ),
    note="Ordered from radical change to defending the status quo.",
)
battery(
    "I'm going to read out a list of various changes in our way of life that might take place in "
    "the near future. Please tell me for each one, if it were to happen, whether you think it "
    "would be a good thing, a bad thing, or don't you mind?",
    "Change: {}",
    "ordinal",
    opts("Good", "Don't mind", "Bad"),
    [
        (
            43,
            "Less importance placed on work in our lives",
            "Would less importance placed on work in our lives be a good thing, a bad thing, or don't you mind?",
        ),
        (
            44,
            "More emphasis on the development of technology",
            "Would more emphasis on the development of technology be a good thing, a bad thing, or don't you mind?",
        ),
        (
            45,
            "Greater respect for authority",
            "Would greater respect for authority be a good thing, a bad thing, or don't you mind?",
        ),
    ],
)

# --- Happiness and well-being (Q46-Q56) ---------------------------------------------------
single(
    46,
    "Taking all things together, would you say you are:",
    "Taking all things together, how happy are you?",
    "ordinal",
    opts("Very happy", "Rather happy", "Not very happy", "Not at all happy"),
)
single(
    47,
    "All in all, how would you describe your state of health these days? Would you say it is...",
    "How would you describe your state of health these days?",
    "ordinal",
    opts("Very good", "Good", "Fair", "Poor", "Very poor"),
)
single(
    48,
    "Some people feel they have completely free choice and control over their lives, while other "
    "people feel that what they do has no real effect on what happens to them. Please use this "
    'scale where 1 means "no choice at all" and 10 means "a great deal of choice" to indicate how '
    "much freedom of choice and control you feel you have over the way your life turns out.",
    "How much freedom of choice and control do you feel you have over the way your life turns out?",
    "scale",
    scale10("No choice at all", "A great deal of choice"),
)
single(
    49,
    "All things considered, how satisfied are you with your life as a whole these days? Using this "
    'card on which 1 means you are "completely dissatisfied" and 10 means you are "completely '
    'satisfied" where would you put your satisfaction with your life as a whole?',
    "All things considered, how satisfied are you with your life as a whole these days?",
    "scale",
    scale10("Completely dissatisfied", "Completely satisfied"),
)
single(
    50,
    "How satisfied are you with the financial situation of your household? Please use this card "
    'again to help with your answer (1 means "completely dissatisfied" and 10 means "completely '
    'satisfied").',
    "How satisfied are you with the financial situation of your household?",
    "scale",
    scale10("Completely dissatisfied", "Completely satisfied"),
)
battery(
    "In the last 12 months, how often have you or your family...",
    "{}",
    "ordinal",
    opts("Often", "Sometimes", "Rarely", "Never"),
    [
        (n, item, f"In the last 12 months, how often have you or your family {phrase}?")
        for n, item, phrase in [
            (51, "Gone without enough food to eat", "gone without enough food to eat"),
            (52, "Felt unsafe from crime in your home", "felt unsafe from crime in your home"),
            (
                53,
                "Gone without medicine or medical treatment that you needed",
                "gone without medicine or medical treatment that you needed",
            ),
            (54, "Gone without a cash income", "gone without a cash income"),
            (55, "Gone without a safe shelter over your head", "gone without a safe shelter over your head"),
        ]
    ],
)
single(
    56,
    "Comparing your standard of living with your parents' standard of living when they were about "
    "your age, would you say that you are better off, worse off or about the same?",
    "Compared with your parents at your age, is your standard of living better, worse or about the same?",
    "nominal",
    opts("Better off", "Worse off", "About the same"),
    note="Nominal: the middle answer 'about the same' has the highest code (3), so code distances are not meaningful.",
)

# --- Social capital, trust & organizational membership (Q57-Q105) --------------------------
single(
    57,
    "Generally speaking, would you say that most people can be trusted or that you need to be very "
    "careful in dealing with people?",
    "Generally speaking, can most people be trusted, or do you need to be very careful in dealing with people?",
    "nominal",
    opts("Most people can be trusted", "Need to be very careful"),
)
battery(
    "I'd like to ask you how much you trust people from various groups. Could you tell me for each "
    "whether you trust people from this group completely, somewhat, not very much or not at all?",
    "Group: {}",
    "ordinal",
    TRUST4,
    [
        (n, item, f"How much do you trust {phrase}?")
        for n, item, phrase in [
            (58, "Your family", "your family"),
            (59, "Your neighborhood", "people in your neighborhood"),
            (60, "People you know personally", "people you know personally"),
            (61, "People you meet for the first time", "people you meet for the first time"),
            (62, "People of another religion", "people of another religion"),
            (63, "People of another nationality", "people of another nationality"),
        ]
    ],
)
battery(
    "I am going to name a number of organizations. For each one, could you tell me how much "
    "confidence you have in them: is it a great deal of confidence, quite a lot of confidence, not "
    "very much confidence or none at all?",
    "Organization: {}",
    "ordinal",
    CONFIDENCE,
    [
        (n, item, f"How much confidence do you have in {phrase}?")
        for n, item, phrase in [
            (
                64,
                "The churches [or the local term: mosques, temples, etc.]",
                "the churches (or the religious institutions of your culture)",
            ),
            (65, "The armed forces", "the armed forces"),
            (66, "The press", "the press"),
            (67, "Television", "television"),
            (68, "Labor unions", "labor unions"),
            (69, "The police", "the police"),
            (70, "The courts", "the courts"),
            (71, "The government", "the government"),
            (72, "Political parties", "political parties"),
            (73, "Parliament", "parliament"),
            (74, "The civil service", "the civil service"),
            (75, "Universities", "universities"),
            (76, "Elections", "elections"),
            (77, "Major companies", "major companies"),
            (78, "Banks", "banks"),
            (79, "Environmental organizations", "environmental organizations"),
            (80, "Women's organizations", "women's organizations"),
            (81, "Charitable or humanitarian organizations", "charitable or humanitarian organizations"),
            (
                82,
                "The [European Union or the regional organization relevant to the country]",
                "the main regional organization of your part of the world (e.g. the European Union)",
            ),
            (83, "The United Nations", "the United Nations"),
            (84, "The International Monetary Fund (IMF)", "the International Monetary Fund (IMF)"),
            (85, "International Criminal Court (ICC)", "the International Criminal Court (ICC)"),
            (86, "The North Atlantic Treaty Organization (NATO)", "NATO"),
            (87, "The World Bank", "the World Bank"),
            (88, "The World Health Organization (WHO)", "the World Health Organization (WHO)"),
            (89, "The World Trade Organization (WTO)", "the World Trade Organization (WTO)"),
        ]
    ],
    notes={
        64: "Localized item: the questionnaire asks teams to replace 'churches' with the term "
        "relevant for the culture (mosque, temple, etc.).",
        82: "Localized item: each country asks about one regional organization (EU, African Union, "
        "Arab League, ASEAN, CIS, Mercosur, SAARC, SCO, ...). Per-organization answers are in "
        "the Q82_* columns (excluded); Q82 holds the country's main one.",
    },
)
single(
    90,
    "Nowadays there's a lot of talk about international organizations. People sometimes say that "
    "international organizations should prioritize improving people's lives, even if this may imply "
    "that decisions are not made democratically. What do you think should international "
    "organizations prioritize, being effective or being democratic? If your views are somewhat "
    "mixed, choose the appropriate number in between (1 means being effective, 10 means being "
    "democratic).",
    "Should international organizations prioritize being effective or being democratic?",
    "scale",
    scale10("Being effective", "Being democratic"),
)
KNOWLEDGE_STEM = (
    "Here are some questions about international organizations. Many people don't know the answers "
    "to these questions, but if you do please tell me."
)
single(
    91,
    f"{KNOWLEDGE_STEM} Five countries have permanent seats on the Security Council of the United "
    "Nations. Which one of the following is not a member? A) France, B) China, C) India",
    "Which of these countries is not a permanent member of the UN Security Council: France, China or India?",
    "nominal",
    opts("France", "China", "India"),
    note="Knowledge item; the correct answer is India (3).",
)
single(
    92,
    f"{KNOWLEDGE_STEM} Where are the headquarters of the International Monetary Fund (IMF) located? "
    "A) Washington DC, B) London, C) Geneva",
    "Where are the headquarters of the International Monetary Fund (IMF): Washington DC, London or Geneva?",
    "nominal",
    opts("Washington DC", "London", "Geneva"),
    note="Knowledge item; the correct answer is Washington DC (1).",
)
single(
    93,
    f"{KNOWLEDGE_STEM} Which of the following problems does the organization Amnesty International "
    "deal with? A) Climate change, B) Human rights, C) Destruction of historic monuments",
    "Which problem does Amnesty International deal with: climate change, human rights, or the "
    "destruction of historic monuments?",
    "nominal",
    opts("Climate change", "Human rights", "Destruction of historic monuments"),
    note="Knowledge item; the correct answer is human rights (2).",
)
battery(
    "Now I am going to read off a list of voluntary organizations. For each organization, could you "
    "tell me whether you are an active member, an inactive member or not a member of that type of "
    "organization?",
    "Organization: {}",
    "ordinal",
    MEMBERSHIP,
    [
        (n, item, f"Are you an active member, an inactive member or not a member of {phrase}?")
        for n, item, phrase in [
            (94, "Church or religious organization", "a church or religious organization"),
            (
                95,
                "Sport or recreational organization, football/baseball/rugby team",
                "a sport or recreational organization",
            ),
            (96, "Art, music or educational organization", "an art, music or educational organization"),
            (97, "Labor Union", "a labor union"),
            (98, "Political party", "a political party"),
            (99, "Environmental organization", "an environmental organization"),
            (100, "Professional association", "a professional association"),
            (101, "Humanitarian or charitable organization", "a humanitarian or charitable organization"),
            (102, "Consumer organization", "a consumer organization"),
            (103, "Self-help group, mutual aid group", "a self-help or mutual aid group"),
            (104, "Women's group", "a women's group"),
            (105, "Other organization", "any other organization"),
        ]
    ],
    notes={
        n: f"Coded 0 = don't belong, 1 = inactive, 2 = active. Q{n}R (member yes/no) is a derived recode (excluded)."
        for n in range(94, 106)
    },
)

# --- Economic values (Q106-Q111) ------------------------------------------------------------
ECON_STEM = (
    "Now I'd like you to tell me your views on various issues. How would you place your views on "
    "this scale? 1 means you agree completely with the statement on the left; 10 means you agree "
    "completely with the statement on the right; and if your views fall somewhere in between, you "
    "can choose any number in between."
)
for n, left, right in [
    (106, "Incomes should be made more equal", "There should be greater incentives for individual effort"),
    (
        107,
        "Private ownership of business and industry should be increased",
        "Government ownership of business and industry should be increased",
    ),
    (
        108,
        "Government should take more responsibility to ensure that everyone is provided for",
        "People should take more responsibility to provide for themselves",
    ),
    (109, "Competition is good", "Competition is harmful"),
    (
        110,
        "In the long run, hard work usually brings a better life",
        "Hard work doesn't generally bring success - it's more a matter of luck and connections",
    ),
]:
    single(
        n,
        f'{ECON_STEM} Left (1): "{left}". Right (10): "{right}".',
        f'Where do you place your views between "{left}" (1) and "{right}" (10)?',
        "scale",
        scale10(left, right),
    )
single(
    111,
    "Here are two statements people sometimes make when discussing the environment and economic "
    "growth. Which of them comes closer to your own point of view?",
    "Which should get priority: protecting the environment or economic growth and jobs?",
    "nominal",
    opts(
        "Protecting the environment should be given priority, even if it causes slower economic "
        "growth and some loss of jobs",
        "Economic growth and creating jobs should be the top priority, even if the environment suffers to some extent",
        "Other answer",
    ),
    note="Code 3 ('other answer') is coded only if volunteered.",
)

# --- Corruption (Q112-Q120) -----------------------------------------------------------------
single(
    112,
    "Now I'd like you to tell me your views on corruption - when people pay a bribe, give a gift or "
    "do a favor to other people in order to get the things they need done or the services they need. "
    'How would you place your views on corruption in your country on a 10-point scale where "1" '
    'means "there is no corruption in my country" and "10" means "there is abundant corruption '
    'in my country". If your views are somewhat mixed, choose the appropriate number in between.',
    "How much corruption is there in your country?",
    "scale",
    scale10("There is no corruption in my country", "There is abundant corruption in my country"),
)
battery(
    "Among the following groups of people, how many do you believe are involved in corruption? Tell "
    "me for each group if you believe it is none of them, few of them, most of them or all of them?",
    "Group: {}",
    "ordinal",
    HOW_MANY,
    [
        (n, item, f"How many {phrase} do you believe are involved in corruption?")
        for n, item, phrase in [
            (113, "State authorities", "state authorities"),
            (114, "Business executives", "business executives"),
            (115, "Local authorities", "local authorities"),
            (
                116,
                "Civil service providers (police, judiciary, civil servants, doctors, teachers)",
                "civil service providers (police, judiciary, civil servants, doctors, teachers)",
            ),
            (117, "Journalists and media", "journalists and media people"),
        ]
    ],
)
single(
    118,
    "We want to know about your experience with local officials and service providers, like police "
    "officers, lawyers, doctors, teachers and civil servants in your community. How often do you "
    "think ordinary people like yourself or people from your neighbourhood have to pay a bribe, give "
    "a gift or do a favor to these people in order to get the services you need? Does it happen "
    "never, rarely, frequently or always?",
    "How often do ordinary people in your community have to pay a bribe, give a gift or do a favor "
    "to local officials and service providers to get the services they need?",
    "ordinal",
    opts("Never", "Rarely", "Frequently", "Always"),
)
single(
    119,
    'Can you tell me how strongly you agree or disagree with the following statement: "on the '
    'whole, women are less corrupt than men"?',
    agree("On the whole, women are less corrupt than men"),
    "nominal",
    {1: "Strongly agree", 2: "Agree", 3: "Disagree", 4: "Strongly disagree", 0: "Hard to say"},
    note="Nominal although codes 1-4 are an agreement scale: the 'hard to say' answer is coded 0 "
    "and has no place on that order.",
)
single(
    120,
    "How high is the risk in this country to be held accountable for giving or receiving a bribe, "
    "gift or favor in return for public service? To indicate your opinion, use a 10-point scale "
    'where "1" means "no risk at all" and "10" means "very high risk".',
    "How high is the risk in this country of being held accountable for giving or receiving a bribe?",
    "scale",
    scale10("No risk at all", "Very high risk"),
)

# --- Migration (Q121-Q130) ------------------------------------------------------------------
single(
    121,
    "Now we would like to know your opinion about the people from other countries who come to live "
    "in [your country] - the immigrants. How would you evaluate the impact of these people on the "
    "development of [your country]?",
    "How would you evaluate the impact of immigrants on the development of your country?",
    "ordinal",
    {5: "Very good", 4: "Quite good", 3: "Neither good, nor bad", 2: "Quite bad", 1: "Very bad"},
    note="Reverse-coded: 1 = very bad ... 5 = very good (as in the questionnaire and the data file).",
)
battery(
    "From your point of view, what have been the effects of immigration on the development of [this "
    "country]? For each of the following statements about the effects of immigration, please, tell "
    "me whether you agree or disagree with it.",
    'Statement: "{}"',
    "ordinal",
    IMMIG_AGREE,
    [
        (n, item, f"Do you agree or disagree that immigration in your country {phrase}?")
        for n, item, phrase in [
            (122, "Fills important jobs vacancies", "fills important job vacancies"),
            (123, "Strengthens cultural diversity", "strengthens cultural diversity"),
            (124, "Increases the crime rate", "increases the crime rate"),
            (
                125,
                "Gives asylum to political refugees who are persecuted elsewhere",
                "gives asylum to political refugees who are persecuted elsewhere",
            ),
            (126, "Increases the risks of terrorism", "increases the risks of terrorism"),
            (
                127,
                "Offers people from poor countries a better living",
                "offers people from poor countries a better living",
            ),
            (128, "Increases unemployment", "increases unemployment"),
            (129, "Leads to social conflict", "leads to social conflict"),
        ]
    ],
    notes={n: "Coded 0 = disagree, 1 = hard to say (volunteered), 2 = agree." for n in range(122, 130)},
)
single(
    130,
    "How about people from other countries coming here to work. Which one of the following do you "
    "think the government should do?",
    "What should the government do about people from other countries coming here to work?",
    "ordinal",
    opts(
        "Let anyone come who wants to",
        "Let people come as long as there are jobs available",
        "Place strict limits on the number of foreigners who can come here",
        "Prohibit people coming here from other countries",
    ),
)

# --- Security (Q131-Q151) -------------------------------------------------------------------
single(
    131,
    "Could you tell me how secure do you feel these days?",
    "How secure do you feel these days?",
    "ordinal",
    opts("Very secure", "Quite secure", "Not very secure", "Not at all secure"),
)
battery(
    "How frequently do the following things occur in your neighborhood?",
    "{}",
    "ordinal",
    FREQ_NEIGH,
    [
        (n, item, f"How frequently do {phrase} occur in your neighborhood?")
        for n, item, phrase in [
            (132, "Robberies", "robberies"),
            (133, "Alcohol consumption in the streets", "alcohol consumption in the streets"),
            (
                134,
                "Police or military interfere with people's private life",
                "police or military interference with people's private life",
            ),
            (135, "Racist behavior", "racist behavior"),
            (136, "Drug sale in streets", "drug sales in the streets"),
            (137, "Street violence and fights", "street violence and fights"),
            (138, "Sexual harassment", "sexual harassment"),
        ]
    ],
)
battery(
    "Which of the following things have you done for reasons of security?",
    "{}",
    "nominal",
    YES_NO,
    [
        (139, "Didn't carry much money", "For reasons of security, have you avoided carrying much money?"),
        (
            140,
            "Preferred not to go out at night",
            "For reasons of security, have you preferred not to go out at night?",
        ),
        (
            141,
            "Carried a knife, gun or other weapon",
            "For reasons of security, have you carried a knife, gun or other weapon?",
        ),
    ],
)
battery(
    "To what degree are you worried about the following situations?",
    "{}",
    "ordinal",
    WORRY,
    [
        (142, "Losing my job or not finding a job", "How worried are you about losing your job or not finding a job?"),
        (
            143,
            "Not being able to give my children a good education",
            "How worried are you about not being able to give your children a good education?",
        ),
    ],
)
single(
    144,
    "Have you been the victim of a crime during the past year?",
    "Have you been the victim of a crime during the past year?",
    "nominal",
    YES_NO,
)
single(
    145,
    "And what about your immediate family - has someone in your family been the victim of a crime "
    "during the last year?",
    "Has someone in your immediate family been the victim of a crime during the last year?",
    "nominal",
    YES_NO,
)
battery(
    "To what degree are you worried about the following situations?",
    "{}",
    "ordinal",
    WORRY,
    [
        (146, "A war involving my country", "How worried are you about a war involving your country?"),
        (147, "A terrorist attack", "How worried are you about a terrorist attack?"),
        (148, "A civil war", "How worried are you about a civil war?"),
    ],
)
single(
    149,
    "Most people consider both freedom and equality to be important, but if you had to choose "
    "between them, which one would you consider more important?",
    "If you had to choose, which is more important: freedom or equality?",
    "nominal",
    opts("Freedom", "Equality"),
)
single(
    150,
    "Most people consider both freedom and security to be important, but if you had to choose "
    "between them, which one would you consider more important?",
    "If you had to choose, which is more important: freedom or security?",
    "nominal",
    opts("Freedom", "Security"),
)
single(
    151,
    "Of course, we all hope that there will not be another war, but if it were to come to that, "
    "would you be willing to fight for your country?",
    "If there were a war, would you be willing to fight for your country?",
    "nominal",
    YES_NO,
)

# --- Postmaterialist index (Q152-Q157) -----------------------------------------------------
AIMS = (
    "People sometimes talk about what the aims of this country should be for the next ten years. On "
    "this card are listed some of the goals which different people would give top priority."
)
single(
    152,
    f"{AIMS} Would you please say which one of these you, yourself, consider the most important?",
    "Which of these should be the most important aim of this country for the next ten years?",
    "nominal",
    POSTMAT1,
)
single(
    153,
    f"{AIMS} And which would be the next most important?",
    "Which of these should be the second most important aim of this country for the next ten years?",
    "nominal",
    POSTMAT1,
    note="Second choice after Q152 (the answer differs from Q152).",
)
single(
    154,
    "If you had to choose, which one of the things on this card would you say is most important?",
    "Which of these is most important: order, more say in government, fighting prices, or free speech?",
    "nominal",
    POSTMAT2,
)
single(
    155,
    "If you had to choose, which one of the things on this card would you say is most "
    "important? And which would be the next most important?",
    "Which of these is second most important: order, more say in government, fighting prices, or free speech?",
    "nominal",
    POSTMAT2,
    note="Second choice after Q154.",
)
single(
    156,
    "Here is another list. In your opinion, which one of these is most important?",
    "Which of these is most important: a stable economy, a more humane society, ideas over money, or fighting crime?",
    "nominal",
    POSTMAT3,
)
single(
    157,
    "Here is another list. In your opinion, which one of these is most important? And what "
    "would be the next most important?",
    "Which of these is second most important: a stable economy, a more humane society, ideas over "
    "money, or fighting crime?",
    "nominal",
    POSTMAT3,
    note="Second choice after Q156.",
)

# --- Science & technology (Q158-Q163) ------------------------------------------------------
SCI_STEM = (
    "Now, I would like to read some statements and ask how much you agree or disagree with each of "
    'these statements. For these questions, a 1 means that you "completely disagree" and a 10 '
    'means that you "completely agree."'
)
battery(
    SCI_STEM,
    'Statement: "{}"',
    "scale",
    scale10("Completely disagree", "Completely agree"),
    [
        (n, s, f'On a scale from 1 (completely disagree) to 10 (completely agree), how much do you agree: "{s}"?')
        for n, s in [
            (158, "Science and technology are making our lives healthier, easier, and more comfortable."),
            (159, "Because of science and technology, there will be more opportunities for the next generation."),
            (160, "We depend too much on science and not enough on faith."),
            (161, "One of the bad effects of science is that it breaks down people's ideas of right and wrong."),
            (162, "It is not important for me to know about science in my daily life."),
        ]
    ],
)
single(
    163,
    "All things considered, would you say that the world is better off, or worse off, because of "
    "science and technology? Please tell me which comes closest to your view on this scale: 1 "
    'means that "the world is a lot worse off," and 10 means that "the world is a lot better off."',
    "Is the world better off or worse off because of science and technology?",
    "scale",
    scale10("A lot worse off", "A lot better off"),
)

# --- Religious values (Q164-Q175) ----------------------------------------------------------
single(
    164,
    'How important is God in your life? Please use this scale to indicate. 10 means "very '
    'important" and 1 means "not at all important."',
    "How important is God in your life?",
    "scale",
    scale10("Not at all important", "Very important"),
)
battery(
    "Which, if any, of the following do you believe in?",
    "{}",
    "nominal",
    YES_NO,
    [
        (n, item, f"Do you believe in {item.lower()}?")
        for n, item in [(165, "God"), (166, "Life after death"), (167, "Hell"), (168, "Heaven")]
    ],
)
battery(
    "Please tell us if you strongly agree, agree, disagree, or strongly disagree with the following statements:",
    'Statement: "{}"',
    "ordinal",
    AGREE4,
    [
        (
            169,
            "Whenever science and religion conflict, religion is always right",
            agree("Whenever science and religion conflict, religion is always right"),
        ),
        (170, "The only acceptable religion is my religion", agree("The only acceptable religion is my religion")),
    ],
)
single(
    171,
    "Apart from weddings and funerals, about how often do you attend religious services these days?",
    "Apart from weddings and funerals, how often do you attend religious services these days?",
    "ordinal",
    opts(
        "More than once a week",
        "Once a week",
        "Once a month",
        "Only on special holy days",
        "Once a year",
        "Less often",
        "Never, practically never",
    ),
)
single(
    172,
    "Apart from weddings and funerals, about how often do you pray?",
    "Apart from weddings and funerals, how often do you pray?",
    "ordinal",
    opts(
        "Several times a day",
        "Once a day",
        "Several times each week",
        "Only when attending religious services",
        "Only on special holy days",
        "Once a year",
        "Less often",
        "Never, practically never",
    ),
    note="Q172R in the data file is a derived recode (excluded).",
)
single(
    173,
    "Independently of whether you attend religious services or not, would you say you are...",
    "Independently of attending services, would you say you are a religious person, not a religious "
    "person, or an atheist?",
    "ordinal",
    opts("A religious person", "Not a religious person", "An atheist"),
    note="Ordered from religious to atheist.",
)
single(
    174,
    "With which one of the following statements do you agree most? The basic meaning of religion is:",
    "Is the basic meaning of religion to follow religious norms and ceremonies, or to do good to other people?",
    "nominal",
    opts("To follow religious norms and ceremonies", "To do good to other people"),
)
single(
    175,
    "And with which of the following statements do you agree most? The basic meaning of religion is:",
    "Is the basic meaning of religion to make sense of life after death, or of life in this world?",
    "nominal",
    opts("To make sense of life after death", "To make sense of life in this world"),
)

# --- Ethical values and norms (Q176-Q198) --------------------------------------------------
single(
    176,
    "How much do you agree or disagree with the statement that nowadays one often has trouble "
    "deciding which moral rules are the right ones to follow? (1 means completely agree, 10 means "
    "completely disagree)",
    "Nowadays, does one often have trouble deciding which moral rules are the right ones to follow?",
    "scale",
    scale10("Completely agree", "Completely disagree"),
)
battery(
    "Please tell me for each of the following actions whether you think it can always be justified, "
    "never be justified, or something in between, using this card (1 means never justifiable, 10 "
    "means always justifiable).",
    "Action: {}",
    "scale",
    scale10("Never justifiable", "Always justifiable"),
    [
        (n, item, f"On a scale from 1 (never) to 10 (always), how justifiable is {phrase}?")
        for n, item, phrase in [
            (
                177,
                "Claiming government benefits to which you are not entitled",
                "claiming government benefits to which you are not entitled",
            ),
            (178, "Avoiding a fare on public transport", "avoiding a fare on public transport"),
            (179, "Stealing property", "stealing property"),
            (180, "Cheating on taxes if you have a chance", "cheating on taxes if you have a chance"),
            (
                181,
                "Someone accepting a bribe in the course of their duties",
                "someone accepting a bribe in the course of their duties",
            ),
            (182, "Homosexuality", "homosexuality"),
            (183, "Prostitution", "prostitution"),
            (184, "Abortion", "abortion"),
            (185, "Divorce", "divorce"),
            (186, "Sex before marriage", "sex before marriage"),
            (187, "Suicide", "suicide"),
            (188, "Euthanasia", "euthanasia"),
            (189, "For a man to beat his wife", "for a man to beat his wife"),
            (190, "Parents beating children", "parents beating children"),
            (191, "Violence against other people", "violence against other people"),
            (
                192,
                "Terrorism as a political, ideological or religious mean",
                "terrorism as a political, ideological or religious means",
            ),
            (193, "Having casual sex", "having casual sex"),
            (194, "Political violence", "political violence"),
            (195, "Death penalty", "the death penalty"),
        ]
    ],
)
battery(
    "Do you think that your country's government should or should not have the right to do the following:",
    "{}",
    "ordinal",
    GOV_RIGHT,
    [
        (n, item, f"Should the government have the right to {phrase}?")
        for n, item, phrase in [
            (
                196,
                "Keep people under video surveillance in public areas",
                "keep people under video surveillance in public areas",
            ),
            (
                197,
                "Monitor all e-mails and any other information exchanged on the Internet",
                "monitor all e-mails and any other information exchanged on the Internet",
            ),
            (
                198,
                "Collect information about anyone living in this country without their knowledge",
                "collect information about anyone living in this country without their knowledge",
            ),
        ]
    ],
)

# --- Political interest & political participation (Q199-Q234) -----------------------------
single(
    199,
    "How interested would you say you are in politics? Are you:",
    "How interested are you in politics?",
    "ordinal",
    opts("Very interested", "Somewhat interested", "Not very interested", "Not at all interested"),
)
single(
    200,
    "When you get together with your friends, would you say you discuss political matters "
    "frequently, occasionally or never?",
    "When you get together with friends, how often do you discuss political matters?",
    "ordinal",
    opts("Frequently", "Occasionally", "Never"),
)
battery(
    "People learn what is going on in this country and the world from various sources. For each of "
    "the following sources, please indicate whether you use it to obtain information daily, weekly, "
    "monthly, less than monthly or never.",
    "Source: {}",
    "ordinal",
    INFO_FREQ,
    [
        (n, item, f"How often do you use {phrase} to learn what is going on in your country and the world?")
        for n, item, phrase in [
            (201, "Daily newspaper", "a daily newspaper"),
            (202, "TV news", "TV news"),
            (203, "Radio news", "radio news"),
            (204, "Mobile phone", "your mobile phone"),
            (205, "Email", "email"),
            (206, "Internet", "the Internet"),
            (207, "Social media (Facebook, Twitter, etc.)", "social media (Facebook, Twitter, etc.)"),
            (208, "Talk with friends or colleagues", "talking with friends or colleagues"),
        ]
    ],
)


def action_short(phrase: str) -> str:
    return f"Have you ever {phrase}, might you do it, or would you never do it?"


battery(
    "Now I'd like you to look at this card. I'm going to read out some forms of political action that "
    "people can take, and I'd like you to tell me, for each one, whether you have done any of these "
    "things, whether you might do it or would never under any circumstances do it.",
    "Action: {}",
    "ordinal",
    ACTION,
    [
        (209, "Signing a petition", action_short("signed a petition")),
        (210, "Joining in boycotts", action_short("joined in a boycott")),
        (211, "Attending peaceful demonstrations", action_short("attended a peaceful demonstration")),
        (212, "Joining strikes", action_short("joined a strike")),
    ],
)
battery(
    "What about these forms of political action and social activism that people can take? Please, "
    "tell me for each of them if you have done any of these things, whether you might do it or would "
    "never under any circumstances do it.",
    "Action: {}",
    "ordinal",
    ACTION,
    [
        (213, "Donating to a group or campaign", action_short("donated to a group or campaign")),
        (214, "Contacting a government official", action_short("contacted a government official")),
        (
            215,
            "Encouraging others to take action about political issues",
            action_short("encouraged others to take action about political issues"),
        ),
        (216, "Encouraging others to vote", action_short("encouraged others to vote")),
    ],
)
battery(
    "Now I'd like you to look at this card. I'm going to read out some other forms of political action "
    "that people can take using Internet and social media tools like Facebook, Twitter etc., and I'd "
    "like you to tell me, for each one, whether you have done any of these things, whether you might "
    "do it or would never under any circumstances do it.",
    "Action: {}",
    "ordinal",
    ACTION,
    [
        (
            217,
            "Searching information about politics and political events",
            action_short("searched the Internet or social media for information about politics"),
        ),
        (218, "Signing an electronic petition", action_short("signed an electronic petition")),
        (
            219,
            "Encouraging other people to take any form of political action",
            action_short("used the Internet or social media to encourage other people to take political action"),
        ),
        (
            220,
            "Organizing political activities, events, protests",
            action_short("used the Internet or social media to organize political activities, events or protests"),
        ),
    ],
    notes={
        n: "Respondents who do not use the Internet or social media are coded -3 (not applicable)."
        for n in range(217, 221)
    },
)
battery(
    "When elections take place, do you vote always, usually or never? Please tell me separately for "
    "each of the following levels:",
    "Level: {}",
    "ordinal",
    VOTE,
    [
        (221, "Local level", "When local elections take place, do you vote always, usually or never?"),
        (222, "National level", "When national elections take place, do you vote always, usually or never?"),
    ],
    notes={n: "Ordinal 1-3 (always ... never); code 4 'not allowed to vote' sits after 'never'." for n in (221, 222)},
)
battery(
    "In your view, how often do the following things occur in this country's elections?",
    "{}",
    "ordinal",
    ELECTION_FREQ,
    [
        (n, item, f"In this country's elections, how often {phrase}?")
        for n, item, phrase in [
            (224, "Votes are counted fairly", "are votes counted fairly"),
            (
                225,
                "Opposition candidates are prevented from running",
                "are opposition candidates prevented from running",
            ),
            (226, "TV news favors the governing party", "does TV news favor the governing party"),
            (227, "Voters are bribed", "are voters bribed"),
            (
                228,
                "Journalists provide fair coverage of elections",
                "do journalists provide fair coverage of elections",
            ),
            (229, "Election officials are fair", "are election officials fair"),
            (230, "Rich people buy elections", "do rich people buy elections"),
            (
                231,
                "Voters are threatened with violence at the polls",
                "are voters threatened with violence at the polls",
            ),
            (232, "Voters are offered a genuine choice in the elections", "are voters offered a genuine choice"),
            (
                233,
                "Women have equal opportunities to run the office",
                "do women have equal opportunities to run for office",
            ),
        ]
    ],
)
single(
    234,
    "Some people think that having honest elections makes a lot of difference in their lives; other "
    "people think that it doesn't matter much. How important would you say is having honest "
    "elections for you - very important, rather important, not very important or not at all important?",
    "How important is having honest elections for you?",
    "ordinal",
    IMPORTANCE,
    note="Q234A in the data file is the unnumbered SDG1 item that follows Q234 (excluded).",
)

# --- Political culture & political regimes (Q235-Q259) -------------------------------------
battery(
    "I'm going to describe various types of political systems and ask what you think about each as a "
    "way of governing this country. For each one, would you say it is a very good, fairly good, fairly "
    "bad or very bad way of governing this country?",
    "System: {}",
    "ordinal",
    REGIME,
    [
        (n, item, f"Is {phrase} a good or bad way of governing this country?")
        for n, item, phrase in [
            (
                235,
                "Having a strong leader who does not have to bother with parliament and elections",
                "having a strong leader who does not have to bother with parliament and elections",
            ),
            (
                236,
                "Having experts, not government, make decisions according to what they think is best for the country",
                "having experts, not government, make decisions according to what they think is best for the country",
            ),
            (237, "Having the army rule", "having the army rule"),
            (238, "Having a democratic political system", "having a democratic political system"),
            (
                239,
                "Having a system governed by religious law in which there are no political parties or elections",
                "having a system governed by religious law with no political parties or elections",
            ),
        ]
    ],
)
single(
    240,
    'In political matters, people talk of "the left" and "the right." How would you place your '
    "views on this scale, generally speaking?",
    "In political matters, where do you place your views on a scale from left (1) to right (10)?",
    "scale",
    scale10("Left", "Right"),
)
battery(
    "Many things are desirable, but not all of them are essential characteristics of democracy. "
    "Please tell me for each of the following things how essential you think it is as a "
    'characteristic of democracy. Use this scale where 1 means "not at all an essential '
    'characteristic of democracy" and 10 means it definitely is "an essential characteristic of '
    'democracy".',
    "Characteristic: {}",
    "scale",
    DEMOCRACY_ESSENTIAL,
    [
        (
            n,
            item,
            f"On a scale from 1 (not essential) to 10 (essential), how essential to democracy is it that {phrase}?",
        )
        for n, item, phrase in [
            (
                241,
                "Governments tax the rich and subsidize the poor.",
                "governments tax the rich and subsidize the poor",
            ),
            (
                242,
                "Religious authorities ultimately interpret the laws.",
                "religious authorities ultimately interpret the laws",
            ),
            (243, "People choose their leaders in free elections.", "people choose their leaders in free elections"),
            (244, "People receive state aid for unemployment.", "people receive state aid for unemployment"),
            (
                245,
                "The army takes over when government is incompetent.",
                "the army takes over when government is incompetent",
            ),
            (
                246,
                "Civil rights protect people from state oppression.",
                "civil rights protect people from state oppression",
            ),
            (247, "The state makes people's incomes equal.", "the state makes people's incomes equal"),
            (248, "People obey their rulers.", "people obey their rulers"),
            (249, "Women have the same rights as men.", "women have the same rights as men"),
        ]
    ],
    notes={
        n: "Code 0 'it is against democracy' is coded only if volunteered; it extends the scale below 1."
        for n in range(241, 250)
    },
)
single(
    250,
    "How important is it for you to live in a country that is governed democratically? On this "
    'scale where 1 means it is "not at all important" and 10 means "absolutely important" what '
    "position would you choose?",
    "How important is it for you to live in a country that is governed democratically?",
    "scale",
    scale10("Not at all important", "Absolutely important"),
)
single(
    251,
    "And how democratically is this country being governed today? Again using a scale from 1 to 10, "
    'where 1 means that it is "not at all democratic" and 10 means that it is "completely '
    'democratic," what position would you choose?',
    "How democratically is this country being governed today?",
    "scale",
    scale10("Not at all democratic", "Completely democratic"),
)
single(
    252,
    'On a scale from 1 to 10 where "1" is "not satisfied at all" and "10" is "completely '
    'satisfied", how satisfied are you with how the political system is functioning in your country '
    "these days?",
    "How satisfied are you with how the political system is functioning in your country these days?",
    "scale",
    scale10("Not satisfied at all", "Completely satisfied"),
)
single(
    253,
    "How much respect is there for individual human rights nowadays in this country? Do you feel there is:",
    "How much respect is there for individual human rights nowadays in this country?",
    "ordinal",
    opts(
        "A great deal of respect for individual human rights",
        "Fairly much respect",
        "Not much respect",
        "No respect at all",
    ),
)
single(
    254,
    "How proud are you to be [country's nationality]?",
    "How proud are you of your nationality?",
    "ordinal",
    opts("Very proud", "Quite proud", "Not very proud", "Not at all proud", "I am not a national of this country"),
    note='Ordinal 1-4; code 5 (questionnaire: "I am not [country\'s nationality]", not read out) '
    "sits after 'not at all proud'.",
)
battery(
    "People have different views about themselves and how they relate to the world. Using this card, "
    "would you tell me how close do you feel to...?",
    "{}",
    "ordinal",
    CLOSENESS,
    [
        (n, item, f"How close do you feel to {phrase}?")
        for n, item, phrase in [
            (255, "Your [village, town or city]", "your village, town or city"),
            (256, "Your [county, region, district]", "your county, region or district"),
            (257, "[Country]", "your country"),
            (258, "[Continent; e.g. Europe, Asia etc.]", "your continent"),
            (259, "World", "the world"),
        ]
    ],
)

# --- Demographics (Q260-Q290): the respondent profile --------------------------------------
single(
    260, "Respondent's sex (coded by observation, not asked).", "What is your sex?", "nominal", opts("Male", "Female")
)
single(
    261,
    "Can you tell me your year of birth, please?",
    "In which year were you born?",
    "numeric",
    value_range=(1900, 2010),
)
single(
    262,
    "This means you are _______ years old (write in age in two digits).",
    "How old are you?",
    "numeric",
    value_range=(15, 110),
    note="Age in years at the interview; the pooled file starts at 16 in a few countries, 18 elsewhere.",
)
single(
    263,
    "Were you born in this country or are you an immigrant to this country?",
    "Were you born in this country or are you an immigrant to it?",
    "nominal",
    BORN,
)
PARENTS_IMMIG = (
    "Are your mother and father immigrants to this country or not? Please, indicate separately for each of them."
)
single(
    264,
    f"{PARENTS_IMMIG} Mother of the respondent",
    "Was your mother born in this country or is she an immigrant to it?",
    "nominal",
    BORN,
)
single(
    265,
    f"{PARENTS_IMMIG} Father of the respondent",
    "Was your father born in this country or is he an immigrant to it?",
    "nominal",
    BORN,
)
BIRTH_STEM = "In which country were you, your father and your mother (or those who raised you) born?"
COUNTRY_NOTE = (
    "Coded with ISO 3166-1 numeric country codes (see countries.json); a few codes are "
    "historical (736 = Sudan before 2011) or WVS-specific (909 = Northern Ireland, "
    "9999 = other country, not identified)."
)
single(266, f"{BIRTH_STEM} Respondent", "In which country were you born?", "nominal", note=COUNTRY_NOTE)
single(
    267,
    f"{BIRTH_STEM} Mother of the respondent",
    "In which country was your mother born?",
    "nominal",
    note=COUNTRY_NOTE,
)
single(
    268,
    f"{BIRTH_STEM} Father of the respondent",
    "In which country was your father born?",
    "nominal",
    note=COUNTRY_NOTE,
)
single(
    269,
    "Are you a citizen of this country?",
    "Are you a citizen of this country?",
    "nominal",
    opts("Yes, I am a citizen of this country", "No, I am not a citizen of this country"),
)
single(
    270,
    "Including yourself, how many people - including children - live here regularly as members of this household?",
    "How many people, including yourself and children, live regularly in your household?",
    "numeric",
    value_range=(1, 99),
)
single(
    271,
    "Do you live with your parents or your parents in law?",
    "Do you live with your parents or your parents-in-law?",
    "nominal",
    opts("No", "Yes, own parent(s)", "Yes, parent(s) in law", "Yes, both own parent(s) and parent(s) in law"),
)
single(
    272,
    "What language do you normally speak at home?",
    "What language do you normally speak at home?",
    "nominal",
    note="",
)  # options and note filled in by add_languages()
single(
    273,
    "Are you currently:",
    "What is your marital status?",
    "nominal",
    opts("Married", "Living together as married", "Divorced", "Separated", "Widowed", "Single"),
)
single(
    274,
    "Do you have any children? (0 if no, and the number of children if yes)",
    "How many children do you have?",
    "numeric",
    value_range=(0, 30),
)
EDU_STEM = "What is the highest educational level that you, your spouse, your mother and your father have attained?"
EDU_NOTE = (
    "ISCED 2011 levels. The data file also has a country-specific version ({}A) and a "
    "3-group recode ({}R), both excluded."
)
for n, who, short, extra in [
    (275, "Respondent", "What is the highest educational level that you have attained?", ""),
    (
        276,
        "Spouse",
        "What is the highest educational level that your spouse has attained?",
        " Respondents without a spouse are coded -3 (not applicable).",
    ),
    (277, "Mother", "What is the highest educational level that your mother has attained?", ""),
    (278, "Father", "What is the highest educational level that your father has attained?", ""),
]:
    single(n, f"{EDU_STEM} {who}", short, "ordinal", EDUCATION, note=EDU_NOTE.format(f"Q{n}", f"Q{n}") + extra)
single(
    279,
    "Are you employed now or not? If yes, about how many hours a week? If more than one job: only for the main job.",
    "What is your employment status?",
    "nominal",
    EMPLOYMENT,
)
single(
    280,
    "Is your spouse employed? In his/her last job was he/she employed (either full time or part "
    "time) or was he/she self-employed?",
    "What is your spouse's employment status?",
    "nominal",
    EMPLOYMENT,
    note="Respondents without a spouse are coded -3 (not applicable).",
)
single(
    281,
    "To which of the following occupational groups do you belong? (If the respondent has no job now: the last job.)",
    "To which occupational group does your job (or your last job) belong?",
    "nominal",
    OCCUPATION,
    note=OCCUPATION_NOTE,
)
single(
    282,
    "To which of the following occupational groups does your spouse belong? (If the spouse has no "
    "job now: the last job.)",
    "To which occupational group does your spouse's job (or last job) belong?",
    "nominal",
    OCCUPATION,
    note=OCCUPATION_NOTE,
)
single(
    283,
    "When you were 14, to which of the following occupational groups did your father belong? (If he "
    "did not have a job or had died by then: his last job.)",
    "When you were 14, to which occupational group did your father's job belong?",
    "nominal",
    OCCUPATION,
    note=OCCUPATION_NOTE,
)
single(
    284,
    "Are you working for the government or public institution, for private business or industry, or "
    "for a private non-profit organization? If you do not work currently, characterize your major "
    "work in the past! Do you or did you work for:",
    "Do you (or did you) work for the government, for private business, or for a non-profit organization?",
    "nominal",
    opts("Government or public institution", "Private business or industry", "Private non-profit organization"),
)
single(
    285,
    "Are you the chief wage earner in your household?",
    "Are you the chief wage earner in your household?",
    "nominal",
    YES_NO,
)
single(
    286,
    "During the past year, did your family:",
    "During the past year, did your family save money, just get by, or spend savings or borrow?",
    "ordinal",
    opts("Saved money", "Just get by", "Spent some savings", "Spent savings and borrowed money"),
)
single(
    287,
    "People sometimes describe themselves as belonging to the working class, the middle class, or "
    "the upper or lower class. Would you describe yourself as belonging to the:",
    "To which social class would you say you belong?",
    "ordinal",
    opts("Upper class", "Upper middle class", "Lower middle class", "Working class", "Lower class"),
)
single(
    288,
    "On this card is an income scale on which 1 indicates the lowest income group and 10 the highest "
    "income group in your country. We would like to know in what group your household is. Please, "
    "specify the appropriate number, counting all wages, salaries, pensions and other incomes that "
    "come in.",
    "On a scale from 1 (lowest) to 10 (highest income group in your country), where is your household?",
    "scale",
    scale10("Lowest group", "Highest group"),
    note="Q288R in the data file is a 3-group recode (excluded).",
)
single(
    289,
    "Do you belong to a religion or religious denomination? If yes, which one?",
    "Which religion or religious denomination, if any, do you belong to?",
    "nominal",
    {
        0: "Do not belong to a denomination",
        1: "Roman Catholic",
        2: "Protestant",
        3: "Orthodox (Russian/Greek/etc.)",
        4: "Jew",
        5: "Muslim",
        6: "Hindu",
        7: "Buddhist",
        8: "Other Christian (Evangelical/Pentecostal/Free church/etc.)",
        9: "Other",
    },
    note="Harmonized major groups of the data file: the master questionnaire's 'other (write in)' "
    "is split into 8 = other Christian and 9 = other religion. Detailed country lists are "
    "in Q289CS9 (excluded).",
)

EXCLUDED: dict[str, str] = {
    "Q223": "Party vote intention: codes are country-specific party lists (country code x 1000 + party), "
    "with no cross-national labels in the codebook; Q223_ABREV/Q223_LOCAL hold party names.",
    "Q290": "Ethnic group: each country uses its own list (country code x 1000 + group) and the data "
    "file carries no labels for them, so answers cannot be decoded to names.",
    "Q33_3": "3-point recode of Q33 (derived).",
    "Q34_3": "3-point recode of Q34 (derived).",
    "Q35_3": "3-point recode of Q35 (derived).",
    "Q172R": "Recode of Q172 (derived).",
    "Q223_ABREV": "Party abbreviation for Q223 (text; derived).",
    "Q223_LOCAL": "Party name in the local language for Q223 (text; derived).",
    "Q234A": "SDG 16.7.2 pilot item (SDG1 in the questionnaire: does the political system allow people like you a say?); unnumbered and asked only in some countries.",
    "Q275A": "Respondent's education in the national classification (country-specific codes).",
    "Q275R": "Respondent's education recoded into 3 groups (derived from Q275).",
    "Q276A": "Spouse's education in the national classification (country-specific codes).",
    "Q276R": "Spouse's education recoded into 3 groups (derived from Q276).",
    "Q277A": "Mother's education in the national classification (country-specific codes).",
    "Q277R": "Mother's education recoded into 3 groups (derived from Q277).",
    "Q278A": "Father's education in the national classification (country-specific codes).",
    "Q278R": "Father's education recoded into 3 groups (derived from Q278).",
    "Q288R": "Income recoded into 3 groups (derived from Q288).",
    "Q289CS9": "Detailed country-specific religious denomination (country-specific codes).",
    "X003R": "Age recoded into 6 intervals (derived from Q262).",
    "X003R2": "Age recoded into 3 intervals (derived from Q262).",
    "X002_02B": "Respondent's country of birth as an ISO alpha-2 code (duplicate of Q266).",
    "V001": "Father born in the country, 1/0 (recode of Q265).",
    "V002": "Mother born in the country, 1/0 (recode of Q264).",
    "V001A_01": "Father's country of birth as an ISO alpha-2 code (duplicate of Q268).",
    "V002A_01": "Mother's country of birth as an ISO alpha-2 code (duplicate of Q267).",
    "Q293": "Trust in the head of state (regional module item, asked only in some countries; the person differs by country).",
}
for _org in [
    "AFRICANUNION",
    "APEC",
    "ARABLEAGUE",
    "ASEAN",
    "CIS",
    "CUSMA",
    "ECO",
    "EU",
    "GULFCOOP",
    "ISLCOOP",
    "MERCOSUR",
    "NAFTA",
    "OAS",
    "SAARC",
    "SCO",
    "TLC",
    "UNDP",
]:
    EXCLUDED[f"Q82_{_org}"] = (
        f"Confidence in one specific regional organization ({_org}), asked only "
        "where relevant; Q82 holds each country's main one."
    )
for _n in range(94, 106):
    EXCLUDED[f"Q{_n}R"] = f"Member yes/no recode of Q{_n} (derived)."
for _p, _inst in [("G", "the government"), ("P", "parliament"), ("UN", "the United Nations")]:
    for _i in range(1, 7):
        EXCLUDED[f"Q291{_p}{_i}"] = (
            f"Political trust module item on {_inst}; a regional module asked only in some countries."
        )
for _c in "ABCDEFGHIJKLMNO":
    EXCLUDED[f"Q292{_c}"] = "Political trust module item; a regional module asked only in some countries."
for _c in "AB":
    EXCLUDED[f"Q294{_c}"] = (
        "How many listed world leaders the respondent trusts (regional module item; the lists differ by country)."
    )


# ---------------------------------------------------------------------------------------------
# Q272: language at home

#: ISO 639 code (as in the data's LNGE_ISO) -> English language name.
ISO639_NAMES = {
    "am": "Amharic",
    "ar": "Arabic",
    "bik": "Bikol",
    "bn": "Bengali",
    "ca": "Catalan",
    "ceb": "Cebuano",
    "cs": "Czech",
    "de": "German",
    "dv": "Dhivehi",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fa": "Persian (Farsi)",
    "fil": "Filipino",
    "fr": "French",
    "ha": "Hausa",
    "hil": "Hiligaynon",
    "hy": "Armenian",
    "ig": "Igbo",
    "ilo": "Ilocano",
    "ja": "Japanese",
    "kk": "Kazakh",
    "ko": "Korean",
    "ky": "Kyrgyz",
    "mn": "Mongolian",
    "ms": "Malay",
    "my": "Burmese",
    "nd": "Ndebele",
    "om": "Oromo",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sk": "Slovak",
    "sn": "Shona",
    "sr": "Serbian",
    "sw": "Swahili",
    "tg": "Tajik",
    "th": "Thai",
    # The data give "tig" (Tigre) for an interview language used only in Ethiopia, where the
    # language of interviews is Tigrinya; we read it as Tigrinya.
    "tig": "Tigrinya",
    "tr": "Turkish",
    "tsg": "Tausug",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "uz": "Uzbek",
    "vi": "Vietnamese",
    "war": "Waray",
    "yo": "Yoruba",
    "zh": "Chinese",
    "oth": "Other language",
}


#: Q272 codes that never occur as an interview language, labelled by inference: the WVS language
#: list is ordered alphabetically by English name (Afar .. Yoruba, codes ~10 apart), so each code
#: below sits between two known neighbours whose names bracket it, and it occurs only in countries
#: where that language is spoken. Only codes where both checks agree are listed.
INFERRED_LANGUAGES = {
    290: "Aymara",  # BOL, PER; between Armenian (200) and Azerbaijani
    310: "Azerbaijani",  # IRN, KAZ
    370: "Balochi",  # PAK
    500: "Berber (Amazigh)",  # MAR, LBY; after Bengali (490)
    790: "Cantonese",  # MAC; between Burmese (740) and Catalan (810)
    1260: "Isan (Northeastern Thai)",  # THA; just before Spanish/Espanol (1270)
    1540: "Gilaki",  # IRN; between German (1530) and Greek (1580)
    1695: "Hassaniya Arabic",  # MAR; just before Hausa (1700)
    1770: "Hungarian",  # ROU, SVK, SRB; between Hiligaynon (1730) and Igbo (1850)
    2103: "Kalenjin",  # KEN
    2126: "Kamba",  # KEN
    2280: "Kikuyu",  # KEN
    2316: "Kisii",  # KEN
    2420: "Kurdish",  # IRQ, IRN; after Korean (2390)
    2657: "Luhya",  # KEN
    2720: "Luo",  # KEN
    3234: "Northern Thai",  # THA; between Ndebele (3200) and Oromo (3390)
    3510: "Nigerian Pidgin",  # NGA; between Persian (3490) and Portuguese (3530)
    3540: "Punjabi",  # PAK; after Portuguese (3530)
    3550: "Pashto",  # PAK; spelled Pushto in the list, after Punjabi
    3570: "Quechua",  # BOL, PER, ECU; before Romanian (3580)
    3720: "Saraiki",  # PAK; between Russian (3630) and Serbian (3780)
    3840: "Sidamo",  # ETH; between Shona (3830) and Slovak (3890)
    3860: "Sindhi",  # PAK
    3920: "Somali",  # KEN, ETH; between Slovak (3890) and Swahili (4075)
    3992: "Southern Thai",  # THA
    4150: "Taiwanese (Hokkien)",  # TWN; just before Tajik (4160)
    4190: "Tamil",  # SGP, MYS; between Tajik (4160) and Tausug (4210)
    4200: "Tatar",  # RUS, KAZ
    4280: "Tiv",  # NGA; after Tigrinya (4270)
    4360: "Tunisian Arabic",  # TUN; just before Turkish (4370)
    4365: "Turkana",  # KEN
    4380: "Turkmen",  # IRQ; after Turkish (4370)
}


def read_frames(data_dir: Path, columns: list[str] | None = None):  # type: ignore[no-untyped-def]
    import pandas as pd

    files = sorted(glob.glob(str(data_dir / "*.csv.gz"))) + sorted(glob.glob(str(data_dir / "*.csv")))
    if not files:
        raise SystemExit(f"no WVS csv files in {data_dir}")
    frames = []
    for f in files:
        head = pd.read_csv(f, nrows=0).columns
        use = [c for c in head if columns is None or c in columns]
        frames.append(pd.read_csv(f, usecols=use, low_memory=False))
    return pd.concat(frames, ignore_index=True)


def language_labels(data_dir: Path) -> dict[int, str]:
    """WVS language code -> name, from interviews whose language code and ISO code are both known."""
    import pandas as pd

    df = read_frames(data_dir, ["S_INTLANGUAGE", "LNGE_ISO"])
    code = pd.to_numeric(df["S_INTLANGUAGE"], errors="coerce")
    out: dict[int, str] = {}
    for c, iso in zip(code, df["LNGE_ISO"].astype(str)):
        if c != c or c < 0 or iso in ("nan", ""):
            continue
        name = ISO639_NAMES.get(iso.strip().lower())
        if name is None:
            raise SystemExit(f"add a name for ISO 639 code {iso!r} to ISO639_NAMES")
        prev = out.setdefault(int(c), name)
        if prev != name:
            raise SystemExit(f"language code {int(c)} maps to both {prev} and {name}")
    return dict(sorted(out.items()))


def add_languages(specs: list[Spec], labels: dict[int, str]) -> None:
    q = next(s for s in specs if s.qid == "Q272")
    clash = {c for c in INFERRED_LANGUAGES if c in labels and labels[c] != INFERRED_LANGUAGES[c]}
    if clash:
        raise SystemExit(f"inferred Q272 labels contradict the data for codes {sorted(clash)}")
    q.options = dict(sorted({**INFERRED_LANGUAGES, **labels}.items()))
    q.open_codes = True
    q.note = (
        "Codes come from the WVS cross-national language list (the same list as the interview "
        f"language S_INTLANGUAGE). {len(labels)} labels are taken from interview languages whose ISO "
        f"639 code the data give; {len(INFERRED_LANGUAGES)} more are inferred from the list's "
        "alphabetical order and the countries using them (see docs/codebook.md). Remaining codes "
        "(small minority languages, 'other' variants) have no label: they load as missing and are "
        "reported as country-specific codes, not as out-of-range values."
    )


# ---------------------------------------------------------------------------------------------
# assembly and checks


OTHER_COUNTRY = 9999  # WVS code for a country of birth that was not coded


def country_options() -> dict[int, str]:
    raw = json.loads(COUNTRIES.read_text("utf-8"))
    names = {int(k): v["name"] for k, v in raw.items()}
    names[OTHER_COUNTRY] = "Another country (not identified)"
    return dict(sorted(names.items()))


def build(lang_labels: dict[int, str]) -> dict:
    add_languages(SPECS, lang_labels)
    countries = country_options()
    questions = []
    for s in SPECS:
        n = int(s.qid[1:])
        if s.qid in ("Q266", "Q267", "Q268"):
            s.options = countries
        questions.append(
            {
                "id": s.qid,
                "text": s.text,
                "short": s.short,
                "kind": s.kind,
                "section": section_of(n),
                "profile": n >= PROFILE_FIRST,
                "options": {str(k): v for k, v in sorted(s.options.items())},
                "value_range": list(s.value_range) if s.value_range else None,
                "note": s.note,
                **({"open_codes": True} if s.open_codes else {}),
            }
        )
    questions.sort(key=lambda q: int(q["id"][1:]))
    return {
        "source": SOURCE,
        "wave": 7,
        "missing_codes": MISSING,
        "sections": [{"id": sid, "title": title} for sid, title, _lo, _hi in SECTIONS],
        "questions": questions,
        "excluded": dict(sorted(EXCLUDED.items())),
    }


def validate(cb: dict) -> list[str]:
    problems = []
    ids = [q["id"] for q in cb["questions"]]
    if len(ids) != len(set(ids)):
        problems.append("duplicate question ids")
    covered = set(ids) | set(cb["excluded"])
    missing = [f"Q{n}" for n in range(1, 291) if f"Q{n}" not in covered]
    if missing:
        problems.append(f"neither question nor excluded: {missing}")
    for q in cb["questions"]:
        if q["kind"] == "numeric":
            if q["options"] or not q["value_range"]:
                problems.append(f"{q['id']}: numeric needs value_range and no options")
        elif len(q["options"]) < 2:
            problems.append(f"{q['id']}: fewer than 2 options")
    return problems


def check_data(cb: dict, data_dir: Path) -> tuple[list[str], list[str]]:
    """(unexplained, explained) reports of codes in the data that the codebook does not declare."""
    import pandas as pd

    qs = {q["id"]: q for q in cb["questions"]}
    df = read_frames(data_dir, list(qs))
    unexplained, explained = [], []
    first = sorted(glob.glob(str(data_dir / "*.csv*")))[0]
    header = pd.read_csv(first, nrows=0).columns
    stray = [c for c in header if re.match(r"^Q\d", c) and c not in qs and c not in cb["excluded"]]
    if stray:
        unexplained.append(f"columns neither declared nor excluded: {stray}")
    for qid, q in qs.items():
        if qid not in df.columns:
            unexplained.append(f"{qid}: column absent from the data")
            continue
        values = pd.to_numeric(df[qid], errors="coerce").dropna().astype(int)
        counts = Counter(v for v in values if v >= 0)
        if q["kind"] == "numeric":
            lo, hi = q["value_range"]
            bad = {v: c for v, c in counts.items() if not lo <= v <= hi}
        else:
            declared = {int(k) for k in q["options"]}
            bad = {v: c for v, c in counts.items() if v not in declared}
        if not bad:
            continue
        n_bad = sum(bad.values())
        top = ", ".join(f"{v}:{c}" for v, c in sorted(bad.items(), key=lambda kv: -kv[1])[:8])
        line = f"{qid}: {len(bad)} undeclared codes, {n_bad} answers ({top}{' ...' if len(bad) > 8 else ''})"
        (explained if qid == "Q272" else unexplained).append(line)
    return unexplained, explained


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", type=Path, help="WVS-7 csv(.gz) directory to check codes against")
    ap.add_argument("--languages-from", type=Path, help="data dir used to label Q272 languages")
    ap.add_argument("--strict", action="store_true", help="exit 1 on unexplained undeclared codes")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)

    lang_dir = args.languages_from or args.check or DEFAULT_DATA
    cb = build(language_labels(lang_dir))
    problems = validate(cb)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    args.out.write_text(json.dumps(cb, indent=1, ensure_ascii=False) + "\n", "utf-8")
    kinds = Counter(q["kind"] for q in cb["questions"])
    print(
        f"wrote {args.out}: {len(cb['questions'])} questions {dict(sorted(kinds.items()))}, "
        f"{len(cb['excluded'])} excluded columns"
    )
    if args.check:
        unexplained, explained = check_data(cb, args.check)
        for line in explained:
            print("explained (see note):", line)
        for line in unexplained:
            print("UNDECLARED:", line)
        print(f"{len(unexplained)} questions with unexplained undeclared codes")
        if unexplained and args.strict:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
