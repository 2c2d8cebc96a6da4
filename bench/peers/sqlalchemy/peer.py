#!/usr/bin/env python3
"""The SQLAlchemy 2.x ORM peer of relata's benchmark (see ../README.md for the protocol).

    python peer.py <w1|w2|w3|w4|w5|w6|w8> <url> <data.json>

prints one line, ``{"secs": S, "sum": N}``; on any error it prints the error on stderr and exits 1.

The model is the classic SQLAlchemy many-to-many, written the way the SQLAlchemy documentation
teaches it: 2.0-style declarative classes (``DeclarativeBase``, ``Mapped``, ``mapped_column``), a
plain ``Table("student_course", ...)`` association table with a composite primary key and the two
foreign keys, and ``relationship(secondary=student_course, back_populates=...)`` on both sides.
The metadata mirrors the harness's DDL; the peer never creates or drops tables.

Connections: the protocol's SQLite URL ``sqlite:///abs/path.db`` names the absolute path
``/abs/path.db`` (relata's convention), which SQLAlchemy spells ``sqlite:////abs/path.db``; a
"connect" event listener runs relata's PRAGMAs (``foreign_keys = ON``, ``synchronous = NORMAL``,
``cache_size = -65536``) on every new DBAPI connection. The PostgreSQL URL
(``postgres://...?options=-c%20search_path%3D<schema>``) gets the ``postgresql+psycopg`` scheme
(psycopg 3); the ``options`` query parameter goes through to libpq as is, so the search_path
applies to the connection.

The workloads, each in one Session, with SQLAlchemy's documented fast paths:

- w1 create: Student and Course objects are built and ``session.add_all``-ed (students, then
  courses, so that each table gets its ids in data order), every course appended to its student's
  ``courses`` collection in data order, one ``session.commit()``. The unit of work INSERTs each
  table with "insertmanyvalues" and RETURNING, and the association rows with one executemany. On
  PostgreSQL that is 1,000 rows a statement (``INSERT ... SELECT ... FROM (VALUES ...) ORDER BY
  sen_counter RETURNING id``). On SQLite, as SQLAlchemy documents, no INSERT form ties new ROWIDs
  to the order of the parameter sets, so the unit of work falls back to one ``INSERT ... RETURNING
  id`` per object (one compiled, cached statement); only a client-generated "sentinel" column
  would let it batch, which the shared schema does not have. ``expire_on_commit=False``
  so that reading the generated ids back from the objects after the commit does not refresh every
  object with a SELECT (the documented setting for using objects after a commit; the other
  workloads keep the default).
  sum = links + sum(student ids) + sum(course ids).
- w2 eager: ``select(Student).options(selectinload(Student.courses))``: one SELECT of the
  students, then the courses with the association joined, ``WHERE student_id IN (...)`` per 500
  students (selectinload is SQLAlchemy's recommended eager loader for collections).
  sum = byte lengths of each student's courses' titles.
- w3 lookup: per lookup ``select(Student).where(Student.name == n)`` ``.one()``, then
  ``student.courses`` (the default lazy "select" load: one SELECT joining the association), in
  one Session (see w3 on its identity map). sum = byte lengths of those titles.
- w4 reverse: ``select(Course).options(selectinload(Course.students))``; sum = byte lengths of the
  names over (course, student) pairs.
- w5 churn: student and course ids read first in id order (untimed). Per step,
  ``session.get(Student, id)``, ``student.courses`` (lazy load), the drop/add chosen as the README
  says, ``session.get(Course, add)``, ``student.courses.remove(drop)`` and
  ``student.courses.append(add)``; the backref to the unloaded ``Course.students`` is recorded
  without loading it. The loop runs under ``session.no_autoflush`` (see w5 for why that is safe
  here), so the one flush at each ``session.commit()`` (every ``churn_batch`` steps, and once at
  the end) DELETEs and INSERTs the association rows with executemany. sum = 0.

- w6 report: the SQL expression language over the mapped classes, two grouped joins:
  ``select(func.length(Course.title), func.count(student_course.c.student_id))
  .outerjoin(student_course).group_by(Course.id)`` and ``select(student_course.c.student_id,
  func.avg(func.length(Course.title))).join(Course).group_by(student_course.c.student_id)``
  (``session.execute``, rows as tuples). sum = over courses, students x title length; plus over
  students, the average title length in thousandths (rounded).

The timer (``time.perf_counter``) starts after the engine has connected and the data file is read
(for w5 also after the ids are read) and stops after the last commit.
"""
import json
import sys
import time
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Identity,
    Integer,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    selectinload,
)

# BIGINT keys as in the PostgreSQL DDL; on SQLite the keys are INTEGER (the rowid alias).
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


student_course = Table(
    "student_course",
    Base.metadata,
    Column("student_id", Id, ForeignKey("students.id", ondelete="CASCADE"), primary_key=True),
    Column("course_id", Id, ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
)


class Student(Base):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(Id, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, index=True)

    courses: Mapped[list["Course"]] = relationship(
        secondary=student_course, back_populates="students"
    )


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Id, Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(Text)

    students: Mapped[list[Student]] = relationship(
        secondary=student_course, back_populates="courses"
    )


class Teacher(Base):
    """W8's parent (``BENCH=relations``): a plain one-to-many, as the SQLAlchemy tutorial
    declares one."""

    __tablename__ = "teachers"

    id: Mapped[int] = mapped_column(Id, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)

    lectures: Mapped[list["Lecture"]] = relationship(
        back_populates="teacher", order_by="Lecture.id"
    )


class Lecture(Base):
    __tablename__ = "lectures"

    id: Mapped[int] = mapped_column(Id, Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    teacher_id: Mapped[int] = mapped_column(Id, ForeignKey("teachers.id"), index=True)

    teacher: Mapped[Teacher] = relationship(back_populates="lectures")


def make_engine(url):
    """An engine for the protocol's URL: SQLite as is, with relata's PRAGMAs on connect;
    PostgreSQL through psycopg 3, the ``options`` (search_path) passed through to libpq."""
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        engine = create_engine("sqlite:///" + path)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA cache_size = -65536")
            cursor.close()

        return engine
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql"):
        return create_engine(urlunsplit(parts._replace(scheme="postgresql+psycopg")))
    raise ValueError(f"unsupported URL scheme: {url}")


def w1(session, data):
    names, titles, links = data["names"], data["titles"], data["links"]
    start = time.perf_counter()
    students = [Student(name=n) for n in names]
    courses = [Course(title=t) for t in titles]
    # Added before they are linked: the unit of work inserts each table in the order its objects
    # entered the session, and the save-update cascade along the links (both ways, through the
    # backref) would otherwise add them in the order the object graph is walked.
    session.add_all(students)
    session.add_all(courses)
    n_links = 0
    for student, picked in zip(students, links):
        student.courses.extend([courses[j] for j in picked])
        n_links += len(picked)
    session.commit()
    total = n_links + sum(s.id for s in students) + sum(c.id for c in courses)
    return time.perf_counter() - start, total


def w2(session, data):
    start = time.perf_counter()
    students = session.scalars(select(Student).options(selectinload(Student.courses))).all()
    total = 0
    for student in students:
        for course in student.courses:
            total += len(course.title.encode())
    return time.perf_counter() - start, total


def w3(session, data):
    names = data["names"]
    # One Session for the whole workload, as an application would keep one per unit of work.
    # Its identity map is weak-referencing: a student (and its loaded courses) survives only while
    # the loop holds it, so a repeated lookup runs both queries again; the name query always runs.
    # (relata's session also has an identity map, so keeping one session is the like-for-like.)
    start = time.perf_counter()
    total = 0
    for i in data["lookups"]:
        student = session.scalars(select(Student).where(Student.name == names[i])).one()
        for course in student.courses:
            total += len(course.title.encode())
    return time.perf_counter() - start, total


def w4(session, data):
    start = time.perf_counter()
    courses = session.scalars(select(Course).options(selectinload(Course.students))).all()
    total = 0
    for course in courses:
        for student in course.students:
            total += len(student.name.encode())
    return time.perf_counter() - start, total


def w5(session, data):
    # Untimed: the ids by index, in id order (a fresh database gave them in data order).
    student_ids = session.scalars(select(Student.id).order_by(Student.id)).all()
    course_ids = session.scalars(select(Course.id).order_by(Course.id)).all()
    session.commit()
    n_courses = len(course_ids)
    batch = data["churn_batch"]
    start = time.perf_counter()
    # No autoflush inside the loop: every query here is by primary key or through a collection,
    # which the session answers with its pending changes (a student changed earlier in the batch
    # is held by the identity map, its collection as changed), so nothing needs flushing early.
    # The changes then go out in one flush per commit, as executemany DELETEs and INSERTs, as
    # relata (which never autoflushes) writes them at its commit. With the default autoflush,
    # each step's changes would be flushed by the next step's first query: one flush per step.
    with session.no_autoflush:
        for n, (s, drop_pick, add_from) in enumerate(data["churn"], 1):
            student = session.get(Student, student_ids[s])
            courses = student.courses
            current = sorted(c.id for c in courses)
            drop = current[drop_pick % len(current)]
            have = set(current)
            add = next(
                cid
                for cid in (course_ids[(add_from + off) % n_courses] for off in range(n_courses))
                if cid not in have
            )
            add_course = session.get(Course, add)
            courses.remove(next(c for c in courses if c.id == drop))
            courses.append(add_course)
            if n % batch == 0:
                session.commit()
        session.commit()
    return time.perf_counter() - start, 0


def w6(session, data):
    start = time.perf_counter()
    per_course = session.execute(
        select(func.length(Course.title), func.count(student_course.c.student_id))
        .select_from(Course)
        .outerjoin(student_course, student_course.c.course_id == Course.id)
        .group_by(Course.id)
    ).all()
    per_student = session.execute(
        select(student_course.c.student_id, func.avg(func.length(Course.title)))
        .join(Course, Course.id == student_course.c.course_id)
        .group_by(student_course.c.student_id)
    ).all()
    total = sum(length * n for length, n in per_course)
    total += sum(round(float(avg) * 1000) for _, avg in per_student if avg is not None)
    return time.perf_counter() - start, total


WORKLOADS = {"w1": w1, "w2": w2, "w3": w3, "w4": w4, "w5": w5, "w6": w6}


def w8(session, data):
    """W8 one-to-many load (``BENCH=relations``): every teacher with its lectures,
    ``selectinload`` (SQLAlchemy's recommended eager loader for collections).
    sum = over teachers in id order (i from 1), i * (name length + sum over its lectures in id
    order, j from 1, of j * title length), in characters."""
    t0 = time.perf_counter()
    teachers = session.scalars(
        select(Teacher).options(selectinload(Teacher.lectures)).order_by(Teacher.id)
    ).all()
    total = 0
    for i, t in enumerate(teachers, 1):
        inner = len(t.name)
        for j, lecture in enumerate(t.lectures, 1):
            inner += j * len(lecture.title)
        total += i * inner
    return time.perf_counter() - t0, total % (1 << 64)


WORKLOADS["w8"] = w8


def main(argv):
    if len(argv) != 4 or argv[1] not in WORKLOADS:
        raise SystemExit(f"usage: {argv[0]} <w1|w2|w3|w4|w5|w6|w8> <url> <data.json>")
    workload, url, data_path = WORKLOADS[argv[1]], argv[2], argv[3]
    with open(data_path, encoding="utf-8") as f:
        data = json.load(f)
    engine = make_engine(url)
    try:
        # w1 reads the generated ids off the objects after its commit: no refresh on commit.
        with Session(engine, expire_on_commit=workload is not w1) as session:
            session.connection()  # connect (and run the PRAGMAs) before the timer
            secs, total = workload(session, data)
    finally:
        engine.dispose()
    print(json.dumps({"secs": secs, "sum": total}))


if __name__ == "__main__":
    try:
        main(sys.argv)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - any failure: message on stderr, exit 1
        import traceback

        traceback.print_exc(file=sys.stderr)
        print(f"sqlalchemy peer: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
