"""The Haryana scenario the demo plays: hubs and district spokes, a master-trainer course and the spoke
course it qualifies trainers for, and a cohort of employees with Hindi and English names. Pure data, the
same on every run for a given seed."""

import random
from dataclasses import dataclass

TENANT = "IN-HR"
FAMILY = "ethics-in-governance"
COMPETENCIES = [
    {"name": "Integrity and ethical conduct", "kind": "behavioural"},
    {"name": "Citizen centricity", "kind": "behavioural"},
    {"name": "Service rules and conduct rules", "kind": "functional"},
]

HUBS = [
    ("Haryana Institute of Public Administration (HIPA), Gurugram", "Gurugram"),
    ("Haryana Police Academy, Madhuban", "Karnal"),
    ("Regional Training Centre, Hisar", "Hisar"),
]
# Each spoke belongs to the hub at the same index modulo three.
SPOKES = [
    ("District Training Centre, Faridabad", "Faridabad"),
    ("District Training Centre, Panipat", "Panipat"),
    ("District Training Centre, Sirsa", "Sirsa"),
    ("District Training Centre, Rewari", "Rewari"),
    ("District Training Centre, Ambala", "Ambala"),
    ("District Training Centre, Bhiwani", "Bhiwani"),
]

HINDI_GIVEN = ["राजेश", "सुनीता", "अमित", "पूजा", "विकास", "नेहा", "संदीप", "कविता", "मनोज", "रेखा",
               "सुरेश", "अनीता", "दीपक", "सीमा", "प्रदीप", "ममता", "क्षितिज", "श्रुति", "हर्षवर्धन", "प्रज्ञा"]
HINDI_FAMILY = ["शर्मा", "यादव", "सिंह", "मलिक", "चौधरी", "गुप्ता", "जांगड़ा", "हुड्डा", "सैनी", "वर्मा", "द्विवेदी"]
ENGLISH_GIVEN = ["Rajesh", "Sunita", "Amit", "Pooja", "Vikas", "Neha", "Sandeep", "Kavita", "Manoj", "Rekha",
                 "Suresh", "Anita", "Deepak", "Seema", "Pradeep", "Mamta", "Gurpreet", "Harjeet"]
ENGLISH_FAMILY = ["Sharma", "Yadav", "Singh", "Malik", "Chaudhary", "Gupta", "Jangra", "Hooda", "Saini", "Verma"]
DEPARTMENTS = [
    ("Revenue and Disaster Management", ["Patwari", "Naib Tehsildar", "Kanungo"]),
    ("Health", ["Staff Nurse", "Medical Officer", "Pharmacist"]),
    ("School Education", ["Lecturer", "Head Teacher", "Clerk"]),
    ("Development and Panchayats", ["Gram Sachiv", "Block Development Officer", "Assistant"]),
    ("Police", ["Sub-Inspector", "Assistant Sub-Inspector", "Head Constable"]),
]


@dataclass(frozen=True)
class Employee:
    id: str
    name: str
    email: str | None
    mobile: str | None
    preferred_language: str
    department: str
    designation: str
    district: str

    def csv_row(self, batch_id: str) -> dict[str, str]:
        return {"batch_id": batch_id, "employee_id": self.id, "name": self.name, "email": self.email or "",
                "mobile": self.mobile or "", "preferred_language": self.preferred_language,
                "department": self.department, "designation": self.designation, "district": self.district}


def employees(count: int, *, prefix: str = "HR", seed: int = 2026) -> list[Employee]:
    """`count` employees: three in five with Hindi names (and Hindi as their language), some without an
    e-mail address or a mobile number, as real directories have."""
    rng = random.Random(seed)
    people = []
    for n in range(count):
        hindi = rng.random() < 0.6
        given, family = (rng.choice(HINDI_GIVEN), rng.choice(HINDI_FAMILY)) if hindi else (
            rng.choice(ENGLISH_GIVEN), rng.choice(ENGLISH_FAMILY))
        department, designations = rng.choice(DEPARTMENTS)
        employee_id = f"{prefix}-{n + 1:06d}"
        people.append(Employee(
            id=employee_id,
            name=f"{given} {family}",
            email=None if rng.random() < 0.05 else f"{employee_id.lower()}@hry.example.in",
            mobile=None if rng.random() < 0.1 else f"+9198{rng.randrange(10**8):08d}",
            preferred_language="hi" if hindi else "en",
            department=department,
            designation=rng.choice(designations),
            district=rng.choice(SPOKES)[1],
        ))
    return people
