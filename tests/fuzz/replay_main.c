/*
 * replay_main.c - a main() for the fuzz harnesses outside libFuzzer: runs
 * LLVMFuzzerTestOneInput once on every file named (a directory: on every
 * regular file inside it, sorted).  Built with the normal compiler, so ctest
 * replays the regression inputs and seeds in every build (sanitizers on in
 * the sanitizer build).  Exit 0 when every input ran; a crash is a crash.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return 1;
	}
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			fprintf(stderr, "replay: out of memory\n");
			fclose(f);
			return 1;
		}
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		cap *= 2;
		buf = realloc(buf, cap);
	}
	fclose(f);
	/* Exact-size copy, as libFuzzer hands it. */
	uint8_t *in = malloc(n ? n : 1);
	if (!in) {
		free(buf);
		return 1;
	}
	memcpy(in, buf, n);
	free(buf);
	LLVMFuzzerTestOneInput(in, n);
	free(in);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, unsigned *count)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: no such file\n", path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	struct dirent **ents;
	int n = scandir(path, &ents, NULL, NULL);
	if (n < 0)
		return 1;
	char **names = calloc((size_t)n + 1, sizeof *names);
	int k = 0, rc = 0;
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.' && names) {
			size_t len = strlen(path) + strlen(ents[i]->d_name) + 2;
			names[k] = malloc(len);
			if (names[k]) {
				snprintf(names[k], len, "%s/%s", path, ents[i]->d_name);
				k++;
			}
		}
		free(ents[i]);
	}
	free(ents);
	if (!names)
		return 1;
	qsort(names, (size_t)k, sizeof *names, cmp_str);
	for (int i = 0; i < k; i++) {
		struct stat fs;
		if (stat(names[i], &fs) == 0 && S_ISREG(fs.st_mode)) {
			(*count)++;
			rc |= run_file(names[i]);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int rc = 0;
	for (int i = 1; i < argc; i++)
		rc |= run_path(argv[i], &count);
	printf("replay: %u inputs, %s\n", count, rc ? "errors" : "ok");
	return rc;
}
