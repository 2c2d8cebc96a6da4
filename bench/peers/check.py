#!/usr/bin/env python3
"""Expected checksums of the five workloads, computed from the data file alone, and a check of a
SQLite database after W5 against a simulation of the churn.

    python3 peers/check.py data.json                 # prints the expected w1..w4 sums
    python3 peers/check.py data.json after-w5.db     # also checks the links after W5

Ids are assumed to be 1..S and 1..C in data order, as a fresh database assigns them.
"""
import json
import sqlite3
import sys


def expected(data):
    names, titles, links = data["names"], data["titles"], data["links"]
    s, c = len(names), len(titles)
    n_links = sum(len(p) for p in links)
    w1 = n_links + s * (s + 1) // 2 + c * (c + 1) // 2
    w2 = sum(len(titles[j].encode()) for p in links for j in p)
    w3 = sum(len(titles[j].encode()) for i in data["lookups"] for j in links[i])
    w4 = sum(len(names[i].encode()) for i, p in enumerate(links) for _ in p)
    return {"w1": w1, "w2": w2, "w3": w3, "w4": w4}


def after_churn(data):
    """The link set after W5: {(student_id, course_id)}."""
    c = len(data["titles"])
    current = {i + 1: sorted(j + 1 for j in p) for i, p in enumerate(data["links"])}
    for student, drop_pick, add_from in data["churn"]:
        sid = student + 1
        have = current[sid]
        drop = have[drop_pick % len(have)]
        add = next(
            (add_from + off) % c + 1
            for off in range(c)
            if (add_from + off) % c + 1 not in have
        )
        have.remove(drop)
        have.append(add)
        have.sort()
    return {(s, x) for s, have in current.items() for x in have}


def main():
    data = json.load(open(sys.argv[1]))
    print(json.dumps(expected(data)))
    if len(sys.argv) > 2:
        db = sqlite3.connect(sys.argv[2])
        got = set(db.execute("SELECT student_id, course_id FROM student_course"))
        want = after_churn(data)
        if got != want:
            print(f"W5: {len(got ^ want)} links differ from the simulation", file=sys.stderr)
            sys.exit(1)
        print(f"W5: the {len(got)} links match the simulation")


if __name__ == "__main__":
    main()
