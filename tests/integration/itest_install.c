/*
 * itest_install.c: `make install` and `make uninstall` into temporary
 * directories, as a packager and a user would run them: every file lands
 * where it should (the command, the static and the shared library with its
 * soname, the header, pgcopyman.pc, the man page, the bash completion); a
 * small program built with `pkg-config --cflags --libs pgcopyman` against the
 * installed files copies a table between two of the harness's servers; the
 * man page renders without warnings; bash completion completes commands and
 * options; uninstall removes every file again.
 *
 * Runs make in the current directory (the repository's root) with
 * BUILD=$PGCM_BUILD (default build).  PGCM_MAKE overrides the make command.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* The files `make install` puts under PREFIX (the shared library's real name separately). */
static const char *const installed[] = {
	"bin/pgcopyman",
	"lib/libpgcopyman.a",
	"lib/libpgcopyman.so",
	"lib/libpgcopyman.so.0",
	"include/pgcopyman.h",
	"lib/pkgconfig/pgcopyman.pc",
	"share/man/man1/pgcopyman.1",
	"share/bash-completion/completions/pgcopyman",
	NULL
};

/* The program built against the installed library. */
static const char app_source[] =
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"#include <pgcopyman.h>\n"
	"\n"
	"int\n"
	"main(int argc, char **argv)\n"
	"{\n"
	"	PGconn *src, *dst;\n"
	"	uint64_t rows = 0, bytes = 0;\n"
	"	char err[512] = \"\";\n"
	"	pgcm_status st;\n"
	"\n"
	"	if (argc != 3)\n"
	"		return 2;\n"
	"	src = PQconnectdb(argv[1]);\n"
	"	dst = PQconnectdb(argv[2]);\n"
	"	if (PQstatus(src) != CONNECTION_OK || PQstatus(dst) != CONNECTION_OK) {\n"
	"		fprintf(stderr, \"app: cannot connect\\n\");\n"
	"		return 1;\n"
	"	}\n"
	"	st = pgcm_transfer(src, \"COPY install_src TO STDOUT\", &dst,\n"
	"	                   \"COPY install_dst FROM STDIN\", 1, &rows, &bytes, err, sizeof err);\n"
	"	printf(\"pgcopyman %s: %s, %llu rows, %llu bytes%s%s\\n\", PGCM_VERSION, pgcm_strerror(st),\n"
	"	       (unsigned long long) rows, (unsigned long long) bytes, *err ? \": \" : \"\", err);\n"
	"	PQfinish(src);\n"
	"	PQfinish(dst);\n"
	"	return st == PGCM_OK && rows == 10000 ? 0 : 1;\n"
	"}\n";

static const char *
build_dir(void)
{
	const char *b = getenv("PGCM_BUILD");

	return b && *b ? b : "build";
}

static const char *
make_cmd(void)
{
	const char *m = getenv("PGCM_MAKE");

	return m && *m ? m : "make";
}

/* sanitized: the build directory holds an ASan/UBSan build (make SANITIZE=1). */
static int
sanitized(void)
{
	return strstr(build_dir(), "san") != NULL;
}

/*
 * run_capture: run a shell command with stdout and stderr into out
 * (NUL-terminated, cut to size); returns its exit status.
 */
static int run_capture(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
run_capture(char *out, size_t size, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	FILE *p;
	size_t len = 0, n;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((n = fread(out + len, 1, size - 1 - len, p)) > 0)
		len += n;
	/* Drain what did not fit. */
	{
		char sink[4096];
		while (fread(sink, 1, sizeof sink, p) > 0)
			;
	}
	out[len] = '\0';
	st = pclose(p);
	if (st == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* exists: lstat succeeds (a symbolic link counts, dangling or not). */
static int
exists(const char *root, const char *rel)
{
	char path[4096];
	struct stat sb;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	return lstat(path, &sb) == 0;
}

/* make_target: make TARGET PREFIX=prefix DESTDIR=destdir BUILD=...; fails the test on error. */
static void
make_target(const char *target, const char *prefix, const char *destdir, const char *logdir)
{
	static char out[1 << 16];
	int rc;

	rc = run_capture(out, sizeof out,
	                 "timeout 600 %s %s PREFIX='%s' DESTDIR='%s' BUILD='%s'%s >'%s/make-%s.log' 2>&1"
	                 " || { tail -n 40 '%s/make-%s.log'; exit 1; }",
	                 make_cmd(), target, prefix, destdir, build_dir(),
	                 sanitized() ? " SANITIZE=1" : "", logdir, target, logdir, target);
	if (rc != 0)
		fail_msg("make %s PREFIX=%s DESTDIR=%s failed (%d):\n%s", target, prefix, destdir, rc, out);
}

/* prepare_tables: install_src (10000 rows) on cluster 1, an empty install_dst on cluster 2. */
static void
prepare_tables(void)
{
	PGconn *src = it_connect(1), *dst = it_connect(2);

	it_exec(src, "DROP TABLE IF EXISTS install_src; CREATE TABLE install_src AS "
	             "SELECT g AS i, md5(g::text) AS s, E'tab\\there' AS t FROM generate_series(1, 10000) g");
	it_exec(dst, "DROP TABLE IF EXISTS install_dst; CREATE TABLE install_dst "
	             "(i integer, s text, t text)");
	PQfinish(src);
	PQfinish(dst);
}

/* check_loaded: install_dst on cluster 2 holds exactly install_src's rows. */
static void
check_loaded(void)
{
	PGconn *src = it_connect(1), *dst = it_connect(2);
	char *a = it_table_checksum(src, "install_src");
	char *b = it_table_checksum(dst, "install_dst");

	assert_int_equal(it_count(dst, "install_dst"), 10000);
	assert_string_equal(a, b);
	free(a);
	free(b);
	PQfinish(src);
	PQfinish(dst);
}

/*
 * check_installed: every file is under root (DESTDIR + PREFIX), the shared
 * library's real file carries the soname libpgcopyman.so.0, the command runs,
 * and the .pc file names prefix.
 */
static void
check_installed(const char *root, const char *prefix)
{
	static char out[1 << 16];
	char pc[4096], want[4200];
	FILE *f;
	size_t n;

	for (int i = 0; installed[i]; i++)
		if (!exists(root, installed[i]))
			fail_msg("make install did not install %s/%s", root, installed[i]);
	assert_int_equal(run_capture(out, sizeof out, "ls '%s/lib/'libpgcopyman.so.0.*", root), 0);
	assert_int_equal(run_capture(out, sizeof out, "readelf -d '%s/lib/libpgcopyman.so'", root), 0);
	if (!strstr(out, "Library soname: [libpgcopyman.so.0]"))
		fail_msg("the shared library's soname is not libpgcopyman.so.0:\n%s", out);
	assert_int_equal(run_capture(out, sizeof out, "'%s/bin/pgcopyman' --version", root), 0);
	if (strncmp(out, "pgcopyman 0.", 12) != 0)
		fail_msg("pgcopyman --version: \"%s\"", out);

	snprintf(pc, sizeof pc, "%s/lib/pkgconfig/pgcopyman.pc", root);
	f = fopen(pc, "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof out - 1, f);
	out[n] = '\0';
	fclose(f);
	snprintf(want, sizeof want, "prefix=%s\n", prefix);
	if (strncmp(out, want, strlen(want)) != 0)
		fail_msg("%s should start with \"prefix=%s\" (the install PREFIX), but is:\n%s",
		         pc, prefix, out);
}

/*
 * build_and_run_app: build the program with flags (shell words: the
 * compiler and linker flags for pgcopyman) against the installed files, check
 * that it links the installed shared library, run it from cluster 1 to
 * cluster 2; then link the static library the same way.
 */
static void
build_and_run_app(const char *tmp, const char *root, const char *flags)
{
	static char out[1 << 16];
	char path[4096];
	FILE *f;
	int rc;

	snprintf(path, sizeof path, "%s/app.c", tmp);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(app_source, f);
	assert_int_equal(fclose(f), 0);

	rc = run_capture(out, sizeof out, "cd '%s' && cc -std=c11 -Wall -Werror %s -o app app.c %s",
	                 tmp, sanitized() ? "-fsanitize=address,undefined" : "", flags);
	if (rc != 0)
		fail_msg("cc app.c %s failed:\n%s", flags, out);
	rc = run_capture(out, sizeof out, "readelf -d '%s/app'", tmp);
	assert_int_equal(rc, 0);
	if (!strstr(out, "Shared library: [libpgcopyman.so.0]"))
		fail_msg("app does not link libpgcopyman.so.0:\n%s", out);

	prepare_tables();
	rc = run_capture(out, sizeof out, "LD_LIBRARY_PATH='%s/lib' '%s/app' '%s' '%s'", root, tmp,
	                 it_conninfo(1), it_conninfo(2));
	if (rc != 0)
		fail_msg("the app built against the installed library failed (%d):\n%s", rc, out);
	if (!strstr(out, "10000 rows"))
		fail_msg("app: \"%s\"", out);
	/* It really loads the installed copy of the library. */
	rc = run_capture(out, sizeof out, "LD_LIBRARY_PATH='%s/lib' ldd '%s/app'", root, tmp);
	assert_int_equal(rc, 0);
	{
		char want[4200];
		snprintf(want, sizeof want, "libpgcopyman.so.0 => %s/lib/libpgcopyman.so.0", root);
		if (!strstr(out, want))
			fail_msg("app does not load %s/lib/libpgcopyman.so.0:\n%s", root, out);
	}
	check_loaded();

	/* The static library links too (libpq from its own .pc). */
	rc = run_capture(out, sizeof out,
	                 "cd '%s' && cc -std=c11 %s -o app_static app.c -I'%s/include' "
	                 "'%s/lib/libpgcopyman.a' $(pkg-config --cflags --libs libpq 2>/dev/null || echo -lpq)",
	                 tmp, sanitized() ? "-fsanitize=address,undefined" : "", root, root);
	if (rc != 0)
		fail_msg("linking app.c with libpgcopyman.a failed:\n%s", out);
	prepare_tables();
	rc = run_capture(out, sizeof out, "'%s/app_static' '%s' '%s'", tmp, it_conninfo(1),
	                 it_conninfo(2));
	if (rc != 0)
		fail_msg("the statically linked app failed (%d):\n%s", rc, out);
	check_loaded();
}

/* pc_variable: `pkg-config --variable=name pgcopyman` with the .pc files under root. */
static void
pc_variable(const char *root, const char *name, char *out, size_t size)
{
	int rc = run_capture(out, size, "PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config --variable=%s pgcopyman",
	                     root, name);
	size_t n = strlen(out);

	if (rc != 0)
		fail_msg("pkg-config --variable=%s pgcopyman failed:\n%s", name, out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
}

/*
 * pc_libs_rpath: `pkg-config --libs pgcopyman` under root carries
 * -Wl,-rpath,ROOT/lib (want 1: a prefix the dynamic linker does not search)
 * or no rpath at all (want 0: a system prefix, where make install runs ldconfig).
 */
static void
pc_libs_rpath(const char *root, int want)
{
	static char out[4096];
	char rpath[4200];
	int rc = run_capture(out, sizeof out, "PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config --libs pgcopyman",
	                     root);

	if (rc != 0)
		fail_msg("pkg-config --libs pgcopyman failed:\n%s", out);
	snprintf(rpath, sizeof rpath, "-Wl,-rpath,%s/lib ", root);
	if (want && !strstr(out, rpath))
		fail_msg("pkg-config --libs pgcopyman lacks %s: %s", rpath, out);
	if (!want && strstr(out, "rpath"))
		fail_msg("a system prefix's pkg-config --libs should carry no rpath: %s", out);
}

/* check_uninstalled: make uninstall left none of the files behind. */
static void
check_uninstalled(const char *root)
{
	static char out[1 << 16];

	for (int i = 0; installed[i]; i++)
		if (exists(root, installed[i]))
			fail_msg("make uninstall left %s/%s behind", root, installed[i]);
	if (run_capture(out, sizeof out, "ls '%s/lib/'libpgcopyman* 2>/dev/null", root) == 0)
		fail_msg("make uninstall left library files behind:\n%s", out);
}

/* The current test's temporary directory, removed by teardown even when the test fails. */
static char test_tmp[256];

/* new_tmp: a fresh temporary directory for the test (mkdtemp on template). */
static char *
new_tmp(char *template)
{
	assert_non_null(mkdtemp(template));
	snprintf(test_tmp, sizeof test_tmp, "%s", template);
	return template;
}

static int
teardown_tmp(void **state)
{
	(void) state;
	if (test_tmp[0] && it_system("rm -rf '%s'", test_tmp) != 0)
		return -1;
	test_tmp[0] = '\0';
	return 0;
}

/* ------------------------------------------------------------------------ */

/* make install PREFIX=$tmp/usr: the files, a program built with pkg-config, uninstall. */
static void
test_install_prefix(void **state)
{
	static char out[1 << 16];
	char tmp[] = "/tmp/pgcm-install.XXXXXX", prefix[256], flags[1024];
	int rc;
	(void) state;

	new_tmp(tmp);
	snprintf(prefix, sizeof prefix, "%s/usr", tmp);
	make_target("install", prefix, "", tmp);
	check_installed(prefix, prefix);
	rc = run_capture(out, sizeof out,
	                 "PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config --cflags --libs pgcopyman", prefix);
	if (rc != 0)
		fail_msg("pkg-config --cflags --libs pgcopyman failed:\n%s", out);
	snprintf(flags, sizeof flags,
	         "$(PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config --cflags --libs pgcopyman)", prefix);
	build_and_run_app(tmp, prefix, flags);

	/*
	 * A prefix the dynamic linker does not search: the .pc file's Libs carry
	 * an rpath, so the program starts without LD_LIBRARY_PATH.
	 */
	pc_libs_rpath(prefix, 1);
	prepare_tables();
	rc = run_capture(out, sizeof out, "env -u LD_LIBRARY_PATH '%s/app' '%s' '%s'", tmp, it_conninfo(1),
	                 it_conninfo(2));
	if (rc != 0)
		fail_msg("the app linked with `pkg-config --libs pgcopyman` does not start without "
		         "LD_LIBRARY_PATH (%d):\n%s", rc, out);
	check_loaded();
	rc = run_capture(out, sizeof out, "env -u LD_LIBRARY_PATH ldd '%s/app'", tmp);
	{
		char want[4200];
		snprintf(want, sizeof want, "libpgcopyman.so.0 => %s/lib/libpgcopyman.so.0", prefix);
		if (rc != 0 || !strstr(out, want))
			fail_msg("without LD_LIBRARY_PATH the app does not load %s/lib/libpgcopyman.so.0:\n%s",
			         prefix, out);
	}
	make_target("uninstall", prefix, "", tmp);
	check_uninstalled(prefix);
}

/*
 * make install DESTDIR=$tmp PREFIX=/usr (a package build): the files under
 * $tmp/usr, and a .pc that names /usr (where the package puts them), not the
 * staging directory.  The staged files are used with explicit paths (a
 * sysroot would move libpq's flags too); uninstall with the same DESTDIR.
 */
static void
test_install_destdir(void **state)
{
	static char out[4096];
	char tmp[] = "/tmp/pgcm-destdir.XXXXXX", root[256], flags[1024];
	(void) state;

	new_tmp(tmp);
	snprintf(root, sizeof root, "%s/usr", tmp);
	make_target("install", "/usr", tmp, tmp);
	check_installed(root, "/usr");
	pc_variable(root, "libdir", out, sizeof out);
	assert_string_equal(out, "/usr/lib");
	pc_variable(root, "includedir", out, sizeof out);
	assert_string_equal(out, "/usr/include");
	/* /usr/lib is searched by the dynamic linker (ldconfig): no rpath. */
	pc_libs_rpath(root, 0);
	snprintf(flags, sizeof flags,
	         "-I'%s/include' -L'%s/lib' -lpgcopyman $(pkg-config --cflags --libs libpq)", root, root);
	build_and_run_app(tmp, root, flags);
	make_target("uninstall", "/usr", tmp, tmp);
	check_uninstalled(root);
}

/* The man page renders with man -l and groff without a single warning, and has every section. */
static void
test_man_page(void **state)
{
	static const char *const sections[] = {
		"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "ENVIRONMENT",
		"EXAMPLES", "SEE ALSO", NULL
	};
	static const char *const options[] = {
		"--from", "--to", "--table", "--target-table", "--columns", "--query", "--format",
		"--header", "--header-match", "--delimiter", "--quote", "--escape", "--null", "--encoding",
		"--jobs", "--split-key", "What gets copied",
		"--truncate", "--no-defer-indexes", "--defer-foreign-keys", "--maintenance-work-mem",
		"--no-sequences", "Replacing a table", "--on-fault", "--stall-timeout", "--segment-size", "--json",
		"--progress", "--dry-run", "--quiet", "--conn", "--idle", "--version", "PGPASSWORD",
		"--max-row-size", "O_TMPFILE", "--compress", ".zst", "--password", "--no-password",
		"--progress=json", "gap_seconds", "Passwords", "Lock waits", "tcp_user_timeout",
		"for more information", "--state-dir", "recover", "PREPARE TRANSACTION", "compare",
		"--verify", "--exclude-table", "--exclude-schema", "--snapshot", NULL
	};
	static char out[1 << 17];
	(void) state;

	assert_int_equal(access("doc/pgcopyman.1", R_OK), 0);
	/* Only stderr is kept: any warning fails. */
	assert_int_equal(run_capture(out, sizeof out,
	                             "MANWIDTH=80 man -l -Tutf8 doc/pgcopyman.1 2>&1 >/dev/null"), 0);
	if (out[0])
		fail_msg("man -l doc/pgcopyman.1 warns:\n%s", out);
	assert_int_equal(run_capture(out, sizeof out, "groff -man -ww -z doc/pgcopyman.1"), 0);
	if (out[0])
		fail_msg("groff -man -ww warns:\n%s", out);
	/* Justified and wrapped text: every run of blanks and line ends read as one space. */
	assert_int_equal(run_capture(out, sizeof out,
	                             "MANWIDTH=80 man -l doc/pgcopyman.1 | col -b | tr -s '[:space:]' ' '"), 0);
	for (int i = 0; sections[i]; i++)
		if (!strstr(out, sections[i]))
			fail_msg("the man page has no %s section", sections[i]);
	for (int i = 0; options[i]; i++)
		if (!strstr(out, options[i]))
			fail_msg("the man page does not mention %s", options[i]);
}

/* complete: what the completion function offers for words (last one being completed). */
static void
complete(const char *script, const char *words, char *out, size_t size)
{
	int rc = run_capture(out, size,
	                     "bash --norc --noprofile -c 'source \"%s\" || exit 9; "
	                     "COMP_WORDS=(%s); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); "
	                     "_pgcopyman pgcopyman; printf \"%%s\\n\" \"${COMPREPLY[@]}\"'",
	                     script, words);

	if (rc != 0)
		fail_msg("completion of (%s) failed (%d):\n%s", words, rc, out);
}

/* Bash completion completes commands, options and values (the repository's and the installed file). */
static void
test_bash_completion(void **state)
{
	static char out[1 << 16];
	char tmp[] = "/tmp/pgcm-compl.XXXXXX", prefix[256], script[512];
	it_run help;
	(void) state;

	complete("contrib/pgcopyman.bash", "pgcopyman co", out, sizeof out);
	assert_string_equal(out, "compare\ncopy\n");
	complete("contrib/pgcopyman.bash", "pgcopyman \"\"", out, sizeof out);
	assert_string_equal(out, "compare\ncopy\nlisten\nnotify\nrecover\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --on-", out, sizeof out);
	assert_string_equal(out, "--on-fault\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --on-fault a", out, sizeof out);
	assert_string_equal(out, "abort\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --format b", out, sizeof out);
	assert_string_equal(out, "binary\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --header-m", out, sizeof out);
	assert_string_equal(out, "--header-match\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --header-match o", out, sizeof out);
	assert_string_equal(out, "on\noff\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --split", out, sizeof out);
	assert_string_equal(out, "--split-key\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --no-", out, sizeof out);
	assert_string_equal(out, "--no-defer-indexes\n--no-sequences\n--no-password\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --defer", out, sizeof out);
	assert_string_equal(out, "--defer-foreign-keys\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --maintenance-work-mem 5", out, sizeof out);
	assert_string_equal(out, "512MB\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --max-r", out, sizeof out);
	assert_string_equal(out, "--max-row-size\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --max-row-size 6", out, sizeof out);
	assert_string_equal(out, "64MB\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --exclude-", out, sizeof out);
	assert_string_equal(out, "--exclude-table\n--exclude-schema\n");
	complete("contrib/pgcopyman.bash", "pgcopyman listen --id", out, sizeof out);
	assert_string_equal(out, "--idle\n");
	complete("contrib/pgcopyman.bash", "pgcopyman copy --from file:contrib/pgcopyman.b", out,
	         sizeof out);
	assert_string_equal(out, "file:contrib/pgcopyman.bash\n");
	/* compare: servers only; every option its --help names is offered. */
	complete("contrib/pgcopyman.bash", "pgcopyman compare --from po", out, sizeof out);
	assert_string_equal(out, "postgresql://\n");
	complete("contrib/pgcopyman.bash", "pgcopyman compare --", out, sizeof out);
	help = it_cli("compare", "--help");
	it_expect_status(&help, 0);
	for (const char *p = strstr(help.out, " --"); p; p = strstr(p + 3, " --")) {
		char opt[64];
		size_t len = 2 + strspn(p + 3, "abcdefghijklmnopqrstuvwxyz-");
		snprintf(opt, sizeof opt, "%.*s\n", (int) len, p + 1);
		if (len > 3 && !strstr(out, opt))
			fail_msg("compare --help names %s, the completion does not offer it:\n%s", opt, out);
	}
	it_run_free(&help);

	/* The installed file works the same. */
	new_tmp(tmp);
	snprintf(prefix, sizeof prefix, "%s/usr", tmp);
	make_target("install", prefix, "", tmp);
	snprintf(script, sizeof script, "%s/share/bash-completion/completions/pgcopyman", prefix);
	complete(script, "pgcopyman co", out, sizeof out);
	assert_string_equal(out, "compare\ncopy\n");
	complete(script, "pgcopyman copy --on-", out, sizeof out);
	assert_string_equal(out, "--on-fault\n");
	make_target("uninstall", prefix, "", tmp);
}

IT_GROUP(install)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_man_page),
		cmocka_unit_test_teardown(test_bash_completion, teardown_tmp),
		cmocka_unit_test_teardown(test_install_prefix, teardown_tmp),
		cmocka_unit_test_teardown(test_install_destdir, teardown_tmp),
	};
	return it_add_group("install", tests, NULL, NULL);
}
