//! The `registrar` binary's commands on students, courses and enrollments, as a user drives
//! them on a SQLite file, PostgreSQL and MySQL: the seed's scenario with its exact `--json`
//! shapes, names kept exactly as given, ids and names that several rows share, and the errors
//! that change nothing.

mod cli_common;

use cli_common::{cli_test, Reg};
use serde_json::json;

cli_test! {
    /// The seed's system end to end, with the exact JSON shapes of the issue.
    fn seed_scenario(r) {
        assert_eq!(
            r.json(&["student", "add", "Alice", "Bob"]),
            json!([{"id": 1, "name": "Alice"}, {"id": 2, "name": "Bob"}])
        );
        assert_eq!(
            r.ok(&["course", "add", "Math", "Science"]),
            "id  title\n 1  Math\n 2  Science\n"
        );
        assert_eq!(r.json(&["enroll", "Alice", "Math", "Science"]), json!({"ok": true, "changed": 2}));
        assert_eq!(r.ok(&["enroll", "Bob", "#1"]), "enrolled Bob (#2) in Math (#1)\n");

        let alice = r.ok(&["--json", "student", "show", "Alice"]);
        assert_eq!(
            alice,
            "{\"id\":1,\"name\":\"Alice\",\"courses\":[{\"id\":1,\"title\":\"Math\"},{\"id\":2,\"title\":\"Science\"}]}\n"
        );
        assert_eq!(
            r.json(&["course", "show", "Math"]),
            json!({"id": 1, "title": "Math", "students": [{"id": 1, "name": "Alice"}, {"id": 2, "name": "Bob"}]})
        );
        assert_eq!(
            r.ok(&["course", "list", "--json"]),
            "[{\"id\":1,\"title\":\"Math\",\"students\":2},{\"id\":2,\"title\":\"Science\",\"students\":1}]\n"
        );
        assert_eq!(
            r.json(&["student", "list"]),
            json!([{"id": 1, "name": "Alice", "courses": 2}, {"id": 2, "name": "Bob", "courses": 1}])
        );
        assert_eq!(
            r.ok(&["student", "list"]),
            "id  name   courses\n 1  Alice        2\n 2  Bob          1\n"
        );
        assert_eq!(
            r.ok(&["student", "show", "Alice"]),
            "Alice (#1): 2 courses\nid  title\n 1  Math\n 2  Science\n"
        );
        assert_eq!(r.ok(&["export"]), "student,course\nAlice,Math\nAlice,Science\nBob,Math\n");

        assert_eq!(r.json(&["drop", "Alice", "Science"]), json!({"ok": true, "changed": 1}));
        assert_eq!(r.json(&["student", "rename", "Bob", "Robert"]), json!({"ok": true, "changed": 1}));
        assert_eq!(r.json(&["course", "rename", "#2", "Physics"]), json!({"ok": true, "changed": 1}));
        assert_eq!(
            r.ok(&["student", "rename", "Alice", "Alicia"]),
            "student #1 renamed from \"Alice\" to \"Alicia\"\n"
        );
        assert_eq!(r.ok(&["export"]), "student,course\nAlicia,Math\nRobert,Math\n");
        assert_eq!(r.json(&["course", "remove", "Math"]), json!({"ok": true, "changed": 1}));
        assert_eq!(r.ok(&["export"]), "student,course\n");
        assert_eq!(
            r.ok(&["student", "remove", "Robert"]),
            "removed student Robert (#2) and 0 enrollments\n"
        );
        assert_eq!(r.json(&["course", "list"]), json!([{"id": 2, "title": "Physics", "students": 0}]));
        assert_eq!(r.ok(&["course", "show", "Physics"]), "Physics (#2): no students\n");
    }
}

cli_test! {
    /// Names are stored and printed exactly as given, and ordered by code point then id.
    fn names_exactly_as_given(r) {
        let names = ["张伟", "Алиса", "O'Brien \"Bo\"", "100%_done", "a;DROP TABLE students;--", " padded "];
        let mut args = vec!["student", "add"];
        args.extend(names);
        let added = r.json(&args);
        let stored: Vec<&str> = added.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(stored, names);
        r.ok(&["course", "add", "数学", "Математика", "x,y"]);
        r.ok(&["enroll", "张伟", "数学", "x,y"]);
        r.ok(&["enroll", "100%_done", "Математика"]);
        // LIKE wildcards are not wildcards: only the exact name matches.
        assert!(r.fails(&["student", "show", "100%"]).contains("no student is named \"100%\""));
        assert_eq!(r.json(&["student", "show", " padded "])["id"], 6);

        let listed: Vec<String> = r.json(&["student", "list"]).as_array().unwrap().iter()
            .map(|s| s["name"].as_str().unwrap().to_owned()).collect();
        let mut sorted: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        sorted.sort();
        assert_eq!(listed, sorted, "code point order");
        assert_eq!(
            r.ok(&["export"]),
            "student,course\n100%_done,Математика\n张伟,\"x,y\"\n张伟,数学\n"
        );
        // Wide characters keep the table aligned (张伟 is four columns wide).
        assert_eq!(r.ok(&["course", "show", "数学"]), "数学 (#1): 1 student\nid  name\n 1  张伟\n");
    }
}

cli_test! {
    /// `#ID` names one row; a name shared by several rows is an error that lists their ids.
    fn ids_and_ambiguous_names(r) {
        r.ok(&["student", "add", "Alice", "Alice", "Bob"]);
        r.ok(&["course", "add", "Math"]);
        assert_eq!(
            r.fails(&["enroll", "Alice", "Math"]),
            "2 students are named \"Alice\" (#1, #2); give one by id, for example #1"
        );
        assert_eq!(r.json(&["enroll", "#2", "Math"]), json!({"ok": true, "changed": 1}));
        assert_eq!(r.json(&["student", "show", "#2"])["courses"][0]["title"], "Math");
        assert_eq!(
            r.fails(&["student", "show", "#9"]),
            "no student has id #9; `registrar student list` shows every student"
        );
        assert_eq!(
            r.fails(&["course", "show", "Art"]),
            "no course is named \"Art\"; `registrar course list` shows every course"
        );
        assert!(r.fails(&["student", "show", "#99999999999999999999999"]).starts_with("no student has id"));
        // `#` followed by anything but digits is a name.
        r.ok(&["course", "add", "#C++"]);
        assert_eq!(r.json(&["course", "show", "#C++"])["id"], 2);
    }
}

cli_test! {
    /// Enroll and drop are all or nothing: one bad course of several changes nothing.
    fn enroll_and_drop_errors_change_nothing(r) {
        r.ok(&["student", "add", "Alice"]);
        r.ok(&["course", "add", "Math", "Art", "Music"]);
        r.ok(&["enroll", "Alice", "Math"]);
        assert_eq!(
            r.fails(&["enroll", "Alice", "Art", "Math"]),
            "Alice (#1) is already enrolled in Math (#1)"
        );
        assert_eq!(
            r.fails(&["enroll", "Alice", "Art", "Nope"]),
            "no course is named \"Nope\"; `registrar course list` shows every course"
        );
        assert_eq!(r.fails(&["enroll", "Alice", "Art", "#2"]), "Art (#2) is given twice; name each course once");
        assert_eq!(r.fails(&["enroll", "Zed", "Art"]), "no student is named \"Zed\"; `registrar student list` shows every student");
        assert_eq!(r.fails(&["drop", "Alice", "Math", "Music"]), "Alice (#1) is not enrolled in Music (#3)");
        assert_eq!(r.json(&["drop", "Alice", "Math"]), json!({"ok": true, "changed": 1}));
        assert_eq!(r.fails(&["drop", "Alice", "Math"]), "Alice (#1) is not enrolled in Math (#1)");
    }
}

cli_test! {
    /// Empty, blank and over-long names are refused, and nothing of the command is written.
    fn bad_names_are_refused(r) {
        assert_eq!(
            r.fails(&["student", "add", "Alice", ""]),
            "a student name cannot be empty or only spaces; give at least one visible character"
        );
        assert_eq!(
            r.fails(&["course", "add", "Math", " \t "]),
            "a course title cannot be empty or only spaces; give at least one visible character"
        );
        let long = "张".repeat(1001);
        assert_eq!(
            r.fails(&["student", "add", "Bob", &long]),
            format!("the student name starting {:?}... has 1001 characters; the limit is 1000", "张".repeat(20))
        );
        // 1000 characters, of one, two, three and four bytes, are fine and come back unchanged,
        // including 3,000 bytes of CJK text that does not compress (too big for a PostgreSQL
        // B-tree entry).
        let cjk: String = (0..1000u32)
            .map(|i| char::from_u32(0x4e00 + (i * 7919) % 20000).unwrap())
            .collect();
        for name in ["a".repeat(1000), "é".repeat(1000), "𠮷".repeat(1000), cjk] {
            let added = r.json(&["student", "add", &name]);
            let id = added[0]["id"].as_i64().unwrap();
            assert_eq!(r.json(&["student", "show", &name])["id"], id);
            assert_eq!(r.json(&["student", "show", &format!("#{id}")])["name"], name.as_str());
        }
        r.ok(&["student", "add", "Carol"]);
        assert_eq!(r.fails(&["student", "rename", "Carol", " "]), "a student name cannot be empty or only spaces; give at least one visible character");
    }
}

cli_test! {
    /// An id once given is never given again, even after the row is removed.
    fn ids_are_never_reused(r) {
        r.ok(&["student", "add", "A", "B", "C"]);
        r.ok(&["course", "add", "X", "Y"]);
        r.ok(&["enroll", "C", "X", "Y"]);
        assert_eq!(r.ok(&["student", "remove", "C"]), "removed student C (#3) and 2 enrollments\n");
        r.ok(&["course", "remove", "#2"]);
        assert_eq!(r.json(&["student", "add", "D"]), json!([{"id": 4, "name": "D"}]));
        assert_eq!(r.json(&["course", "add", "Z"]), json!([{"id": 3, "title": "Z"}]));
        assert_eq!(r.json(&["course", "show", "X"])["students"], json!([]));
    }
}

cli_test! {
    /// Issue 12, item 11: a name that reads as an id is refused (it could never be given by
    /// name); an id too large for any row is reported as given.
    fn names_that_look_like_ids_and_ids_out_of_range(r) {
        assert_eq!(
            r.fails(&["student", "add", "Alice", "#5"]),
            "a student name cannot be \"#5\": `#` and digits is how ids are written (#5 means the student with id 5); write it another way, for example \"No. 5\""
        );
        r.ok(&["student", "add", "Alice", "#five", "# 5"]);
        assert_eq!(r.json(&["student", "show", "#five"])["id"], 2);
        assert!(r.fails(&["student", "rename", "Alice", "#12"]).starts_with("a student name cannot be \"#12\""));
        let path = r.file("ids.csv", b"student,course\nAlice,Math\nBob,#7\n");
        assert!(
            r.fails(&["import", path.to_str().unwrap()]).ends_with("line 3: a course title cannot be \"#7\": `#` and digits is how ids are written (#7 means the course with id 7); write it another way, for example \"No. 7\""),
        );
        assert_eq!(
            r.fails(&["student", "show", "#99999999999999999999"]),
            "no student has id #99999999999999999999: ids are whole numbers up to 9223372036854775807; `registrar student list` shows every student"
        );
        assert_eq!(
            r.fails(&["enroll", "Alice", "#0099999999999999999999"]),
            "no course has id #0099999999999999999999: ids are whole numbers up to 9223372036854775807; `registrar course list` shows every course"
        );
    }
}

cli_test! {
    /// Issue 12, item 12: adding a name that exists already works but warns (stderr, exit 0),
    /// and `--json` says which rows share it; counts take the right number ("1 course").
    fn repeated_names_warn_and_counts_read_right(r) {
        r.ok(&["student", "add", "Alice"]);
        let out = r.run(&["student", "add", "Alice", "Bob"]);
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(out.stdout, "id  name\n 2  Alice\n 3  Bob\n");
        assert_eq!(
            out.stderr,
            "warning: a student \"Alice\" existed already (#1); the new one is #2: give them by id from now on, or rename one (`registrar student rename #2 NEW`)\n"
        );
        assert_eq!(
            r.json(&["student", "add", "Alice", "Carol", "Carol"]),
            json!([
                {"id": 4, "name": "Alice", "same_name": [1, 2]},
                {"id": 5, "name": "Carol"},
                {"id": 6, "name": "Carol", "same_name": [5]},
            ])
        );
        r.ok(&["course", "add", "Math"]);
        assert_eq!(r.ok(&["enroll", "Bob", "Math"]), "enrolled Bob (#3) in Math (#1)\n");
        assert_eq!(r.ok(&["student", "show", "Bob"]), "Bob (#3): 1 course\nid  title\n 1  Math\n");
        assert_eq!(r.ok(&["course", "show", "Math"]), "Math (#1): 1 student\nid  name\n 3  Bob\n");
        assert_eq!(r.ok(&["student", "remove", "Bob"]), "removed student Bob (#3) and 1 enrollment\n");
        let path = r.file("one.csv", b"student,course\nDora,Art\n");
        assert_eq!(
            r.ok(&["import", path.to_str().unwrap()]),
            format!("imported {}: 1 student, 1 course and 1 enrollment added; 0 pairs skipped (repeated or enrolled already)\n", path.display())
        );
        let out = r.dir.path().join("one-out.csv");
        assert_eq!(
            r.ok(&["export", out.to_str().unwrap()]),
            format!("exported 1 enrollment to {}\n", out.display())
        );
    }
}
