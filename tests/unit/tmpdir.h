/*
 * tmpdir.h - a private temporary directory for one test program: files
 * named in it with tmp_path() are removed with it at teardown.  Include
 * after cmocka.h; define TMPDIR_PREFIX ("sw-NAME") and TMPDIR_MAX_FILES first.
 */
#ifndef SW_TEST_TMPDIR_H
#define SW_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char g_dir[64];
static char g_files[TMPDIR_MAX_FILES][128];
static size_t g_n_files;

/* A path inside the test directory, remembered for removal. */
static const char *tmp_path(const char *name)
{
	assert_true(g_n_files < sizeof(g_files) / sizeof(g_files[0]));
	char *p = g_files[g_n_files++];
	snprintf(p, sizeof(g_files[0]), "%s/%s", g_dir, name);
	return p;
}

static int setup_dir(void **state)
{
	(void)state;
	const char *tmp = getenv("TMPDIR");
	snprintf(g_dir, sizeof(g_dir), "%s/" TMPDIR_PREFIX "-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	for (size_t i = 0; i < g_n_files; i++)
		unlink(g_files[i]);
	g_n_files = 0;
	return rmdir(g_dir);
}

#endif
