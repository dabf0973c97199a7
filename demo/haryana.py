"""`make demo`: a Haryana training cycle through the whole backend, end to end.

Three hubs train twelve master trainers; their certificates make them eligible to run batches at six
district spokes; 2,000 employees with Hindi and English names are enrolled in bulk, attend six sessions
each (some miss a few), complete, receive signed certificates, and are told by e-mail and SMS in their own
language. A progress display runs meanwhile; a summary table and the artefacts to open end it.

The services must be running (`make up` starts them; `make demo` does both), and the demo sends their
APIs the local stack's key of every state, `API_KEY` of `source <(deploy/local/stack.sh env)` (`make demo`
sources it). Every run uses fresh ids, so running it again adds a second cohort beside the first.
"""

import argparse
import asyncio
import csv
import io
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from aiokafka import TopicPartition
from attendance.bulk import MAX_FILE_LINES
from karmayogi_runtime import calendar, topics
from rich.console import Console
from rich.live import Live
from rich.table import Table

import scenario
from received import DEAD_LETTER_TOPICS, MessagesOnDisk, dead_lettered_since
from scenario import FAMILY, TENANT

console = Console()
ROOT = Path(__file__).resolve().parents[1]
STATE = f"/v1/states/{TENANT}"
SESSIONS = 6


def api_key() -> str:
    """The key the local stack gives its services for every state, which the demo sends as a state system would."""
    if not (key := os.environ.get("API_KEY")):
        raise SystemExit("API_KEY is not set: run `source <(deploy/local/stack.sh env)` first (`make demo` does), "
                         "which exports the key the local stack gives the services' APIs.")
    return key


class Demo:
    def __init__(self, urls: dict[str, str], data_dir: Path, employees: int, run: str, key: str, *,
                 counts_messages: bool = True) -> None:
        self.urls, self.data_dir, self.count, self.run = urls, data_dir, employees, run
        bearer = {"Authorization": f"Bearer {key}"}  # every call but the public verification page's needs it
        self.http = {name: httpx.AsyncClient(base_url=url, headers=bearer, timeout=300) for name, url in urls.items()}
        self.figures: dict[str, int] = {}
        self.baseline: dict[str, int] = {}
        self.counts_messages = counts_messages
        self.messages: MessagesOnDisk | None = None  # from the baseline on, when the demo counts messages
        self.started = time.monotonic()

    # -- setting the state's training network up ------------------------------------------------

    async def post(self, service: str, path: str, body: object, expect: int = 201) -> dict:
        response = await self.http[service].post(path, json=body)
        if response.status_code != expect:
            raise SystemExit(f"{service} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    async def get(self, service: str, path: str) -> Any:
        """A read that must succeed: a refused key, say, stops the demo with the service's own sentence."""
        response = await self.http[service].get(path)
        if response.status_code != 200:
            raise SystemExit(f"{service} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    async def network(self) -> tuple[list[dict], list[dict]]:
        hubs = [await self.post("enrolment", f"{STATE}/centres", {"name": name, "tier": "hub", "district": district})
                for name, district in scenario.HUBS]
        spokes = [await self.post("enrolment", f"{STATE}/centres", {
            "name": name, "tier": "spoke", "district": district, "hub_id": hubs[i % len(hubs)]["id"]})
            for i, (name, district) in enumerate(scenario.SPOKES)]
        return hubs, spokes

    async def course(self, title: str, trains_trainers: bool) -> dict:
        return await self.post("enrolment", f"{STATE}/courses", {
            "title": f"{title} ({self.run})", "competencies": scenario.COMPETENCIES, "family": FAMILY,
            "completion_rule": {"minimum_attendance_percent": 75, "mandatory_session_ids": []},
            "trains_trainers": trains_trainers})

    async def batch(self, course: dict, centre: dict, trainers: list[str], capacity: int, expect: int = 201) -> dict:
        today = calendar.today().isoformat()  # the state's day: one dated by UTC's may have started already
        response = await self.http["enrolment"].post(f"{STATE}/batches", json={
            "course_id": course["id"], "centre_id": centre["id"], "start_date": today, "end_date": today,
            "capacity": capacity, "mode": "classroom", "sessions_planned": SESSIONS, "trainers": trainers})
        return {"status": response.status_code, **response.json()} if response.status_code != expect else response.json()

    async def enrol(self, people: list[scenario.Employee], batch_of: dict[str, str]) -> dict:
        """One CSV upload, streamed by the service: the way a state HRMS enrols a cohort."""
        rows = io.StringIO()
        writer = csv.DictWriter(rows, fieldnames=list(people[0].csv_row("").keys()))
        writer.writeheader()
        for person in people:
            writer.writerow(person.csv_row(batch_of[person.id]))
        response = await self.http["enrolment"].post(f"{STATE}/bulk-enrolments", content=rows.getvalue().encode(),
                                                     headers={"content-type": "text/csv"})
        if response.status_code != 201:
            raise SystemExit(f"bulk enrolment failed ({response.status_code}): {response.text[:500]}")
        return response.json()

    async def schedule(self, batch_id: str, expected: int) -> list[dict]:
        """Six one-minute sessions earlier today; retried until attendance has the whole roster."""
        sessions = [{"starts_at": starts.isoformat(), "duration_minutes": 1, "mode": "classroom"}
                    for starts in calendar.earlier_today(SESSIONS)]
        while True:
            roster = await self.http["attendance"].get(f"{STATE}/batches/{batch_id}/progress")
            if roster.status_code == 200 and len(roster.json()) >= expected:
                break
            await asyncio.sleep(0.5)
        existing = await self.http["attendance"].get(f"{STATE}/batches/{batch_id}/sessions")
        if existing.status_code == 200 and existing.json():
            return existing.json()
        return await self.post("attendance", f"{STATE}/batches/{batch_id}/sessions", {"sessions": sessions})

    async def attend(self, marks: list[dict]) -> None:
        """The biometric system's export: NDJSON files for every session of every batch, as many as the
        attendance service's limit on lines a file asks for."""
        for start in range(0, len(marks), MAX_FILE_LINES):
            body = "\n".join(json.dumps(mark) for mark in marks[start:start + MAX_FILE_LINES]).encode()
            response = await self.http["attendance"].post(f"{STATE}/attendance-imports?marked_by=biometric",
                                                          content=body, headers={"content-type": "application/x-ndjson"})
            if response.status_code != 202:
                raise SystemExit(f"attendance import failed ({response.status_code}): {response.text[:500]}")

    # -- a training cycle: the hubs train the trainers, who then run the spokes' batches ---------

    async def train_the_trainers(self, live: Live | None) -> tuple[list[dict], dict, list[scenario.Employee]]:
        """Twelve master trainers trained and certified at the three hubs; returns the spokes, the course
        the spokes teach, and the master trainers."""
        hubs, spokes = await self.network()
        master_course = await self.course("Ethics in Governance: Master Trainer Programme", trains_trainers=True)
        spoke_course = await self.course("Ethics in Governance", trains_trainers=False)
        masters = scenario.employees(12, prefix=f"MT{self.run}")
        hub_batches = [await self.batch(master_course, hub, [], 10) for hub in hubs]
        await self.enrol(masters, {m.id: hub_batches[i % 3]["id"] for i, m in enumerate(masters)})
        await self.until(live, "master trainers enrolled", lambda f, settled: f["enrolled"] >= len(masters))
        await self.attend(await self.marks([(batch, masters[i::3]) for i, batch in enumerate(hub_batches)], {}))
        await self.until(live, "master trainers certified", lambda f, settled: f["certificates"] >= len(masters))
        return spokes, spoke_course, masters

    async def spoke_batches(self, course: dict, spokes: list[dict], masters: list[scenario.Employee],
                            cohort: list[scenario.Employee], per_batch: int = 40) -> list[tuple[dict, list]]:
        """The cohort in batches of `per_batch` across the spokes, each run by two master trainers of its hub."""
        batches = []
        for n in range(0, len(cohort), per_batch):
            place = (n // per_batch) % len(spokes)
            spoke = spokes[place]
            trainers = [m.id for j, m in enumerate(masters) if j % 3 == place % 3][:2]
            while (batch := await self.batch(course, spoke, trainers, per_batch)).get("status") == 422:
                await asyncio.sleep(0.5)  # enrolment has not seen the trainers' certificates yet
            batches.append((batch, cohort[n:n + per_batch]))
        return batches

    async def marks(self, batches: list[tuple[dict, list]], skip: dict[str, int]) -> list[dict]:
        """Each batch's six sessions scheduled, and a mark for each person at each, but the first
        `skip[person]` sessions of a person who missed some."""
        marks = []
        for batch, people in batches:
            sessions = await self.schedule(batch["id"], len(people))
            marks += [{"employee_id": person.id, "session_id": session["id"]}
                      for person in people for index, session in enumerate(sessions) if index >= skip.get(person.id, 0)]
        return marks

    # -- watching it happen ---------------------------------------------------------------------

    async def certificates_issued(self) -> int:
        """The state's certificates, earlier runs' included."""
        return (await self.get("certification", f"{STATE}/certificates/count"))["issued"]

    async def measure(self) -> dict[str, int]:
        """This run's figures: the state's totals less what earlier runs left (the first call takes them as the
        baseline), then the e-mails and SMS received since the baseline, when the demo counts them."""
        progress = await self.get("attendance", f"{STATE}/progress")
        totals = {
            "enrolled": progress["enrolled"],
            "attending": progress["attending"],
            "completed": progress["completed"],
            "certificates": await self.certificates_issued(),
        }
        if not self.baseline:
            self.baseline = totals
            self.messages = MessagesOnDisk(self.data_dir) if self.counts_messages else None
        self.figures = {name: value - self.baseline[name] for name, value in totals.items()}
        if self.messages is not None:
            self.figures |= self.messages.count()
        return self.figures

    def table(self, phase: str) -> Table:
        table = Table(title=f"Haryana training cycle {self.run}: {phase} ({time.monotonic() - self.started:.0f}s)")
        for name in self.figures:
            table.add_column(name, justify="right")
        table.add_row(*(f"{value:,}" for value in self.figures.values()))
        return table

    async def until(self, live: Live | None, phase: str, done, timeout: float = 600) -> None:
        """Wait until `done(figures, settled)`; settled: the last five readings, a second apart, were the same."""
        deadline = time.monotonic() + timeout
        recent: list[dict[str, int]] = []
        while True:
            figures = await self.measure()
            if live is not None:
                live.update(self.table(phase))
            recent = (recent + [dict(figures)])[-5:]
            settled = len(recent) == 5 and all(r == recent[0] for r in recent)
            if done(figures, settled):
                return
            if time.monotonic() > deadline:
                so_far = ", ".join(f"{name} {value:,}" for name, value in figures.items())
                raise SystemExit(f"the demo waited {timeout:.0f}s in phase '{phase}' ({so_far}); see .local/logs/")
            await asyncio.sleep(1)


async def play(demo: Demo) -> None:
    await demo.measure()  # the baseline: what earlier runs left
    # Transient: once the cycle is done, the summary below takes the progress table's place.
    with Live(demo.table("starting"), console=console, refresh_per_second=4, transient=True) as live:
        spokes, spoke_course, masters = await demo.train_the_trainers(live)
        cohort = scenario.employees(demo.count, prefix=f"HR{demo.run}")
        batches = await demo.spoke_batches(spoke_course, spokes, masters, cohort)
        job = await demo.enrol(cohort, {person.id: batch["id"] for batch, people in batches for person in people})
        await demo.until(live, "enrolling", lambda f, settled: f["enrolled"] >= len(masters) + job["accepted"])
        # One in twenty misses two sessions (67%, below the 75% rule); one in twenty misses one (83%, completes).
        skip = {p.id: 2 for p in cohort[::20]} | {p.id: 1 for p in cohort[10::20]}
        await demo.attend(await demo.marks(batches, skip))
        expected = len(masters) + len(cohort) - len(cohort[::20])
        await demo.until(live, "certifying and notifying",
                         lambda f, settled: settled and f["completed"] >= expected and f["certificates"] >= expected)


async def summary(demo: Demo, bootstrap: str, dead_letters_before: dict[TopicPartition, int]) -> None:
    figures = {**demo.figures, "dead-lettered": await dead_lettered_since(bootstrap, dead_letters_before)}
    table = Table(title=f"What happened, in {time.monotonic() - demo.started:.0f}s")
    table.add_column("figure")
    table.add_column("count", justify="right")
    for name, value in figures.items():
        table.add_row(name, f"{value:,}")
    console.print(table)
    listing = await demo.get("certification", f"{STATE}/certificates?limit=50")
    sample = next((c for c in listing["items"] if any("\u0900" <= ch <= "\u097f" for ch in c["employee_name"])),
                  listing["items"][0])
    pdf = demo.data_dir / "demo" / f"certificate-{sample['certificate_id']}.pdf"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    async with httpx.AsyncClient(base_url=demo.urls["certification"], timeout=60) as anyone:  # the e-mail's link: no key
        pdf.write_bytes((await anyone.get(f"/verify/{sample['certificate_id']}/pdf")).content)
    mail = demo.messages.newest_mail if demo.messages else None  # this run's last
    console.print(f"[bold]Certificate PDF[/]      {pdf}")
    console.print(f"[bold]Verification page[/]    {sample['verify_url']}")
    console.print(f"[bold]An e-mail[/]            {mail or '(none)'}")
    console.print(f"[bold]SMS log[/]              {demo.data_dir / 'sms' / 'messages.ndjson'}")
    if figures["certificates"] != figures["completed"]:
        raise SystemExit("certificates and completions disagree")


def main() -> None:
    parser = argparse.ArgumentParser(description="Play a Haryana training cycle through the running backend.")
    parser.add_argument("--employees", type=int, default=2000)
    args = parser.parse_args()
    urls = {name: f"http://127.0.0.1:{port}" for name, port in
            (("enrolment", 8101), ("attendance", 8102), ("certification", 8103), ("notifications", 8104))}
    data_dir = Path(os.environ.get("LOCAL_DATA_DIR", ROOT / ".local"))
    run = datetime.now(timezone.utc).strftime("%m%d%H%M%S")
    asyncio.run(_main(urls, data_dir, args.employees, run, api_key()))


async def _main(urls: dict[str, str], data_dir: Path, employees: int, run: str, key: str) -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:29092")
    demo = Demo(urls, data_dir, employees, run, key)
    try:
        dead_letters_before = await topics.end_offsets(bootstrap, DEAD_LETTER_TOPICS)
        await play(demo)
        await summary(demo, bootstrap, dead_letters_before)
    finally:
        for client in demo.http.values():
            await client.aclose()


if __name__ == "__main__":
    main()
