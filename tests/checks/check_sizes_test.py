#!/usr/bin/env python3
"""Self-test of tools/check-sizes.py: it runs the check on small files
written to a temporary tree, so the check cannot pass vacuously (a check
that finds no function, or never fails, fails here)."""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                      "tools", "check-sizes.py")


def body(lines):
    return "".join(f"  x += {i};\n" for i in range(lines))


def function(name, lines, head="int {name}(int x)"):
    """A function whose body spans `lines` lines, braces included."""
    return head.replace("{name}", name) + " {\n" + body(lines - 2) + "}\n"


def run(files):
    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        p = subprocess.run([sys.executable, SCRIPT, "--root", root],
                           capture_output=True, text=True)
        return p.returncode, p.stdout


class CheckSizesTest(unittest.TestCase):
    def test_short_files_and_functions_pass(self):
        code, out = run({"daemon/core/a.cpp": function("f", 80)})
        self.assertEqual(code, 0, out)

    def test_a_file_over_500_lines_fails(self):
        code, out = run({"protocol/big.h": "// line\n" * 501})
        self.assertEqual(code, 1, out)
        self.assertIn("protocol/big.h:1: file: 501 lines (limit 500)", out)

    def test_a_function_over_80_lines_fails_with_its_name_and_line(self):
        text = "namespace tollgate {\nnamespace {\n" + function("long_one", 81) + "}\n}\n"
        code, out = run({"workers/calls/a.cpp": text})
        self.assertEqual(code, 1, out)
        self.assertIn("workers/calls/a.cpp:3: function long_one: 81 lines (limit 80)", out)

    def test_a_member_function_in_a_class_body_is_counted(self):
        text = ("class Foo {\n public:\n" + function("bar", 90, "  int {name}(int x) const")
                + "};\n")
        code, out = run({"tools/t/a.h": text})
        self.assertEqual(code, 1, out)
        self.assertIn("function bar: 90 lines", out)

    def test_a_constructor_with_braced_member_initializers_is_counted(self):
        text = function("Foo::Foo", 85, "{name}(int x)\n    : a_{x}, b_(x), c_{std::max(x, 1)}")
        code, out = run({"daemon/server/a.cpp": text})
        self.assertEqual(code, 1, out)
        self.assertIn("function Foo::Foo: 85 lines", out)

    def test_a_class_whose_head_has_an_attribute_macro_is_walked_into(self):
        text = ('class CAPABILITY("mutex") Mutex {\n public:\n'
                + function("lock", 82, "  void {name}() ACQUIRE()") + "};\n")
        code, out = run({"daemon/core/a.h": text})
        self.assertEqual(code, 1, out)
        self.assertIn("function lock: 82 lines", out)

    def test_a_template_with_a_default_argument_is_counted(self):
        text = function("f", 81, "template <class T = int>\nT {name}(T x) noexcept")
        code, out = run({"protocol/a.h": text})
        self.assertEqual(code, 1, out)
        self.assertIn("function f: 81 lines", out)

    def test_a_braced_member_initializer_is_not_a_function(self):
        text = ("struct S {\n  std::function<void()> on_done_{\n" + "    nullptr\n" * 90
                + "  };\n};\n")
        code, out = run({"workers/calls/a.h": text})
        self.assertEqual(code, 0, out)

    def test_braces_in_comments_and_strings_are_ignored(self):
        text = ("// } unbalanced {\nconst char* k = \"}}\";\nchar c = '{';\n"
                "auto r = R\"x(}})x\";\n" + function("f", 81))
        code, out = run({"daemon/core/a.cpp": text})
        self.assertEqual(code, 1, out)
        self.assertIn("a.cpp:5: function f: 81 lines", out)

    def test_a_data_table_variable_is_not_a_function(self):
        rows = "".join(f"    {{{i}, \"row\"}},\n" for i in range(120))
        text = "const Row kRows[] = {\n" + rows + "};\nenum class E {\n" + "  A,\n" * 90 + "};\n"
        code, out = run({"protocol/t.cpp": text})
        self.assertEqual(code, 0, out)

    def test_a_function_marked_as_a_table_may_be_long(self):
        text = "// The rows. size-check: table\n" + function("rows", 120)
        code, out = run({"protocol/t.cpp": text})
        self.assertEqual(code, 0, out)

    def test_the_table_marker_covers_only_the_definition_below_it(self):
        text = ("// size-check: table\n" + function("rows", 120) + function("other", 81))
        code, out = run({"protocol/t.cpp": text})
        self.assertEqual(code, 1, out)
        self.assertIn("function other: 81 lines", out)
        self.assertNotIn("function rows", out)

    def test_files_outside_the_source_folders_are_not_read(self):
        code, out = run({"tests/unit/a_test.cpp": function("f", 200), "protocol/a.h": ""})
        self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main()
