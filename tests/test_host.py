"""A project that is not configured by Kconfig is read as the host compiler would (gcc on Linux
x86-64), its include path taken from -I and its build files; warnings said once per problem."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# zlib's shape: platform #define's in a header the struct's file includes
ZCONF = """\
#ifndef ZCONF_H
#define ZCONF_H
#ifdef Z_PREFIX
#  define Bytef z_Bytef
#  define uInt z_uInt
#endif
#if defined(__MSDOS__) && !defined(MSDOS)
#  define MSDOS
#endif
#if defined(MSDOS) || defined(__DJGPP__)
#  define FAR _far
#else
#  define FAR
#endif
typedef unsigned char Bytef;
typedef unsigned int uInt;
#endif
"""

ZLIB = """\
#include "zconf.h"
#include "config.h"
struct z_stream_s {
\tBytef *next_in;
\tuInt avail_in;
\tstruct internal_state FAR *state;
#ifdef MSDOS
\tint dos_only;
#endif
#ifdef HAVE_FOO
\tint foo;
#endif
#ifdef CONFIG_BAR
\tint bar;
#endif
#ifdef __DJGPP__
\tunsigned int mid;
#else
\tunsigned long mid;
#endif
};
"""


def _git(repo: Path, *args: str) -> str:
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(repo.parent),
               GIT_AUTHOR_NAME="A", GIT_AUTHOR_EMAIL="a@example.org",
               GIT_COMMITTER_NAME="A", GIT_COMMITTER_EMAIL="a@example.org")
    return subprocess.run(["git", "-C", str(repo), *args], check=True, env=env,
                          capture_output=True, text=True).stdout


def _repo(tmp_path: Path, files: dict[str, str], tags: int = 1) -> Path:
    repo = tmp_path / "proj"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    for k in range(tags):
        for p, text in files.items():
            f = repo / p
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(text.replace("@N@", str(k)))
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"release {k}")
        _git(repo, "tag", f"v1.{k}")
    return repo


def _members(srcdiff, repo: Path, name: str, *opts: str) -> tuple[list[tuple], int, str]:
    r = srcdiff("show", name, "--repo", str(repo), "--format", "json", *opts)
    assert r.code in (0, 1), r.err
    return [(f["name"], f["type"], f["guard"]) for f in r.json()["fields"]], r.code, r.err


def test_platform_branches_are_dropped_without_a_config(srcdiff, tmp_path):
    repo = _repo(tmp_path, {"zconf.h": ZCONF, "zlib.h": ZLIB, "config.h.in": "#undef HAVE_FOO\n"})
    got, code, err = _members(srcdiff, repo, "z_stream_s")
    # MSDOS, __DJGPP__ are defined nowhere: their branches are out, FAR is empty, no unparsed
    # member; HAVE_FOO is the build's (config.h is generated from config.h.in) and CONFIG_BAR
    # a Kconfig name: both keep their guard
    assert got == [("next_in", "Bytef *", None), ("avail_in", "uInt", None),
                   ("state", "struct internal_state *", None), ("foo", "int", "HAVE_FOO"),
                   ("bar", "int", "CONFIG_BAR"), ("mid", "unsigned long", "!__DJGPP__")]
    assert code == 0 and err == ""


def test_D_turns_a_platform_branch_on_and_U_takes_a_predefine_away(srcdiff, tmp_path):
    repo = _repo(tmp_path, {"zconf.h": ZCONF, "zlib.h": ZLIB})
    got, _code, _err = _members(srcdiff, repo, "z_stream_s", "-D", "Z_PREFIX", "-D", "__DJGPP__")
    assert ("next_in", "z_Bytef *", None) in got and ("avail_in", "z_uInt", None) in got
    assert ("mid", "unsigned int", "__DJGPP__") in got  # FAR is _far now: state unparsed
    src = "struct s {\n#ifdef __linux__\n\tint lin;\n#else\n\tint other;\n#endif\n};\n"
    repo2 = _repo(tmp_path / "two", {"s.h": src})
    assert [m[0] for m in _members(srcdiff, repo2, "s")[0]] == ["lin"]
    assert [m[0] for m in _members(srcdiff, repo2, "s", "-U", "__linux__")[0]] == ["other"]


def test_a_kconfig_tree_keeps_every_branch_without_a_config(srcdiff, tmp_path):
    repo = _repo(tmp_path, {"Kconfig": "config BAR\n\tbool\n", "zconf.h": ZCONF,
                            "zlib.h": ZLIB})
    got, _code, _err = _members(srcdiff, repo, "z_stream_s")
    assert ("dos_only", "int", "MSDOS") in got and ("bar", "int", "CONFIG_BAR") in got
    assert ("mid", "unsigned int", "__DJGPP__") in got and ("mid", "unsigned long", "!__DJGPP__") in got


def test_names_the_build_files_define_keep_their_guard(srcdiff, tmp_path):
    src = ("struct s {\n#ifdef LOG_X\n\tint log;\n#endif\n#ifdef HAVE_STRLCPY\n\tint cpy;\n#endif\n"
           "#ifdef USE_TLS\n\tint tls;\n#endif\n#ifdef NEVER_SET\n\tint never;\n#endif\n};\n")
    repo = _repo(tmp_path, {"src/s.h": src, "src/Makefile": "CFLAGS += -DLOG_X\n",
                            "configure.ac": "AC_CHECK_FUNCS([strlcpy])\nAC_DEFINE(USE_TLS, 1, [tls])\n"})
    got, _code, _err = _members(srcdiff, repo, "s")
    assert got == [("log", "int", "LOG_X"), ("cpy", "int", "HAVE_STRLCPY"),
                   ("tls", "int", "USE_TLS")]


def test_names_autoconf_macro_files_define_keep_their_guard(srcdiff, tmp_path):
    # curl's m4/curl-confopts.m4 AC_DEFINEs NTLM_WB_ENABLED, which lib/urldata.h tests; a
    # project's acinclude.m4 is read the same way
    src = ("struct s {\n#ifdef NTLM_WB_ENABLED\n\tint wb;\n#endif\n#ifdef FROM_ACINCLUDE\n"
           "\tint ac;\n#endif\n#ifdef NEVER_SET\n\tint never;\n#endif\n};\n")
    repo = _repo(tmp_path, {
        "lib/s.h": src, "configure.ac": "CURL_CHECK_NTLM_WB\n",
        "m4/curl-confopts.m4": "AC_DEFUN([CURL_CHECK_NTLM_WB], [\n"
                               "    AC_DEFINE(NTLM_WB_ENABLED, 1, [enable NTLM delegation])\n])\n",
        "m4/notes.txt": "AC_DEFINE(NEVER_SET, 1)\n",
        "acinclude.m4": "AC_DEFINE_UNQUOTED([FROM_ACINCLUDE], 1)\n"})
    got, _code, _err = _members(srcdiff, repo, "s")
    assert got == [("wb", "int", "NTLM_WB_ENABLED"), ("ac", "int", "FROM_ACINCLUDE")]


ARRAY_H = "#define git_array_t(type) struct { type *ptr; size_t size, asize; }\n"
REPO_H = '#include "array.h"\nstruct git_repository {\n\tgit_array_t(char) names;\n\tint x;\n};\n'
WANT = [("names", "struct", None), ("x", "int", None)]  # names: { char *ptr; size_t size, asize; }


def test_an_include_is_found_through_cmake_include_directories(srcdiff, tmp_path):
    cmake = ('set(LIB_INCLUDES\n\t"${PROJECT_BINARY_DIR}/src/util"\n'
             '\t"${PROJECT_SOURCE_DIR}/src/util")\n'
             "target_include_directories(lib PRIVATE ${LIB_INCLUDES})\n")
    repo = _repo(tmp_path, {"src/libgit2/repository.h": REPO_H, "src/util/array.h": ARRAY_H,
                            "src/libgit2/CMakeLists.txt": cmake})
    got, code, err = _members(srcdiff, repo, "git_repository")
    assert got == WANT and code == 0 and err == ""


def test_an_include_is_found_through_I_and_makefile_flags(srcdiff, tmp_path):
    files = {"src/libgit2/repository.h": REPO_H, "src/util/array.h": ARRAY_H}
    repo = _repo(tmp_path, files)
    got, code, _err = _members(srcdiff, repo, "git_repository")
    assert code == 1 and got[0][0] is None  # not found: unparsed
    assert _members(srcdiff, repo, "git_repository", "-I", "src/util")[0] == WANT
    repo2 = _repo(tmp_path / "two", {**files, "src/libgit2/Makefile": "CFLAGS = -I../util -O2\n"})
    # (--no-cache: the cache keys a reading by the header's blob, the same as in REPO)
    assert _members(srcdiff, repo2, "git_repository", "--no-cache")[0] == WANT


def test_a_missing_macro_is_warned_about_once_across_versions(srcdiff, tmp_path):
    src = "struct s {\n\tint a@N@;\n\tgit_array_t(char) names;\n};\n"
    repo = _repo(tmp_path, {"s.h": src}, tags=5)
    r = srcdiff("log", "s", "--repo", str(repo))
    assert r.code == 1
    lines = [ln for ln in r.err.splitlines() if "git_array_t" in ln]
    assert len(lines) == 1 and "v1.0:" in lines[0] and "4 more versions, to v1.4" in lines[0]


def test_a_header_read_again_sees_what_its_neighbours_define_at_each_version(srcdiff, tmp_path):
    # a.h is the same blob at both releases; what it defines hangs on b.h, which changes: the
    # reading of a.h made for v1.0 must not be reused for v1.1
    repo = _repo(tmp_path, {
        "s.h": '#include "a.h"\n#include "b.h"\n#define S_RELEASE @N@\nstruct s {\n\tT x;\n};\n',
        "a.h": "#ifdef USE_WIDE\n#define T long\n#else\n#define T int\n#endif\n",
        "b.h": "#if @N@ == 0\n#define USE_WIDE 1\n#endif\n"}, tags=2)
    r = srcdiff("log", "s", "--repo", str(repo), "--format", "json")
    assert r.code == 0, r.err
    got = {v["tag"]: [(f["name"], f["type"]) for f in v["fields"]] for v in r.json()["versions"]}
    assert got == {"v1.0": [("x", "long")], "v1.1": [("x", "int")]}


def test_build_file_names_are_whole_words_and_flags(srcdiff, tmp_path):
    # AC_DEFINE / -D glued to a word before it define nothing; a CMake call on the first line
    # of its file counts
    src = ("struct s {\n#ifdef AC_X\n\tint ac;\n#endif\n#ifdef NOT_AC\n\tint not_ac;\n#endif\n"
           "#ifdef MK_X\n\tint mk;\n#endif\n#ifdef NOT_MK\n\tint not_mk;\n#endif\n"
           "#ifdef CM_X\n\tint cm;\n#endif\n#ifdef NOT_CM\n\tint not_cm;\n#endif\n};\n")
    repo = _repo(tmp_path, {
        "src/s.h": src,
        "src/Makefile": "CFLAGS += -DMK_X x-DNOT_MK\n",
        "src/CMakeLists.txt": "add_compile_definitions(CM_X)\nxadd_compile_definitions(NOT_CM)\n",
        "configure.ac": "AC_DEFINE(AC_X, 1)\nXAC_DEFINE(NOT_AC, 1)\n"})
    got, _code, _err = _members(srcdiff, repo, "s")
    assert got == [("ac", "int", "AC_X"), ("mk", "int", "MK_X"), ("cm", "int", "CM_X")]


def test_a_projects_own_names_its_build_sets_keep_their_guard(srcdiff, tmp_path):
    # nginx: ngx_http_request.h tests NGX_HTTP_CACHE, which its own configure writes into a
    # header it generates (no template in the tree). A name of the project's own prefix that
    # no file defines is the build's to decide; another name defined nowhere is undefined.
    src = ("struct ngx_http_request_s {\n\tint uri;\n#if (NGX_HTTP_CACHE)\n\tint cache;\n#endif\n"
           "#if (MSDOS)\n\tint dos;\n#endif\n};\n")
    repo = _repo(tmp_path, {"src/http/ngx_http_request.h": src})
    members, code, _err = _members(srcdiff, repo, "ngx_http_request_s")
    assert code == 0
    assert [(m[0], m[2]) for m in members] == [("uri", None), ("cache", "(NGX_HTTP_CACHE)")]
