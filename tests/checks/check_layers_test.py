#!/usr/bin/env python3
"""Self-test of tools/check-layers.py: it runs the check on small trees
built in a temporary directory, so the check cannot pass vacuously (a check
that reads no include, or never fails, fails here)."""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                      "tools", "check-layers.py")

# A tree shaped like tollgate's whose every arrow points down.
GOOD = {
    "protocol/codec.h": [],
    "daemon/core/config.h": ["protocol/codec.h", "daemon/core/policy/selection.h"],
    "daemon/core/policy/selection.h": ["protocol/codec.h"],
    "daemon/ledger/ledger.h": ["daemon/core/config.h"],
    "daemon/ledger/lmdb/lmdb_ledger.cpp": ["daemon/ledger/ledger.h", "daemon/core/config.h"],
    "daemon/ledger/memory/memory_ledger.cpp": ["daemon/ledger/ledger.h"],
    "daemon/server/server.h": ["daemon/ledger/ledger.h"],
    "workers/providers/adapter.h": ["protocol/codec.h"],
    "workers/calls/call_run.h": ["workers/providers/adapter.h", "daemon/server/server.h"],
    "tools/tollgated/main.cpp": ["workers/calls/call_run.h", "daemon/ledger/lmdb/lmdb_ledger.cpp",
                                 "daemon/server/server.h"],
    "tools/tollctl/main.cpp": ["protocol/codec.h", "tools/tollctl/render.h"],
    "tools/tollctl/render.h": [],
}


def write_tree(root, tree):
    for path, includes in tree.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write("// test file\n#pragma once\n#include <vector>\n")
            for inc in includes:
                f.write(f'#include "{inc}"\n')


def run(tree, *args):
    with tempfile.TemporaryDirectory() as root:
        write_tree(root, tree)
        p = subprocess.run([sys.executable, SCRIPT, "--root", root, *args],
                           capture_output=True, text=True)
        return p.returncode, p.stdout


def with_include(path, target):
    tree = {k: list(v) for k, v in GOOD.items()}
    tree.setdefault(path, []).append(target)
    tree.setdefault(target, [])
    return tree


class CheckLayersTest(unittest.TestCase):
    def test_a_tree_whose_arrows_all_point_down_passes(self):
        code, out = run(GOOD)
        self.assertEqual(code, 0, out)
        self.assertIn("every arrow points down", out)

    def test_an_upward_include_fails_and_is_named_by_file_line_and_target(self):
        code, out = run(with_include("daemon/core/config.h", "daemon/server/server.h"))
        self.assertEqual(code, 1, out)
        self.assertIn("daemon/core/config.h:6 -> daemon/server/server.h: upward:", out)

    def test_an_include_from_protocol_into_workers_fails(self):
        code, out = run(with_include("protocol/codec.h", "workers/calls/call_run.h"))
        self.assertEqual(code, 1, out)
        self.assertIn("protocol/codec.h:4 -> workers/calls/call_run.h: upward:", out)

    def test_providers_including_calls_fails(self):
        code, out = run(with_include("workers/providers/adapter.h", "workers/calls/call_run.h"))
        self.assertEqual(code, 1, out)
        self.assertIn("upward", out)

    def test_two_ledger_backends_including_each_other_fail(self):
        code, out = run(with_include("daemon/ledger/lmdb/lmdb_ledger.cpp",
                                     "daemon/ledger/memory/memory_ledger.cpp"))
        self.assertEqual(code, 1, out)
        self.assertIn("-> daemon/ledger/memory/memory_ledger.cpp: sibling:", out)

    def test_two_tools_including_each_other_fail(self):
        code, out = run(with_include("tools/tollgated/main.cpp", "tools/tollctl/render.h"))
        self.assertEqual(code, 1, out)
        self.assertIn("tools/tollgated/main.cpp:7 -> tools/tollctl/render.h: sibling:", out)

    def test_a_parent_and_child_folder_including_each_other_is_a_cycle(self):
        code, out = run(with_include("daemon/ledger/ledger.h",
                                     "daemon/ledger/lmdb/lmdb_ledger.cpp"))
        self.assertEqual(code, 1, out)
        self.assertIn("cycle: between daemon/ledger/ <-> daemon/ledger/lmdb/", out)

    def test_an_include_outside_the_layered_folders_fails(self):
        code, out = run(with_include("daemon/server/server.h", "tests/unit/helper.h"))
        self.assertEqual(code, 1, out)
        self.assertIn("outside", out)

    def test_a_relative_include_is_resolved_from_the_including_file(self):
        tree = dict(GOOD)
        tree["daemon/core/config.h"] = ["../server/server.h"]
        code, out = run(tree)
        self.assertEqual(code, 1, out)
        self.assertIn("-> daemon/server/server.h: upward:", out)

    def test_the_graph_prints_as_dot_and_mermaid(self):
        code, out = run(GOOD, "--dot")
        self.assertEqual(code, 0)
        self.assertIn('"workers/calls/" -> "daemon/server/"', out)
        code, out = run(GOOD, "--mermaid")
        self.assertEqual(code, 0)
        self.assertIn("workers_calls -->|1| daemon_server", out)


if __name__ == "__main__":
    unittest.main()
