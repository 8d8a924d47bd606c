/* SPDX-License-Identifier: MIT */
/* Runs a fuzz target over the files of a corpus directory, so that every
 * build (not only a libFuzzer one) replays what fuzzing found. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  int files = 0;
  for (int i = 1; i < argc; i++) {
    DIR *dir = opendir(argv[i]);
    if (!dir) {
      perror(argv[i]);
      return 1;
    }
    struct dirent *e;
    while ((e = readdir(dir))) {
      if (e->d_name[0] == '.')
        continue;
      char path[4096];
      snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
      FILE *f = fopen(path, "rb");
      if (!f)
        continue;
      uint8_t *buf = malloc(1 << 20);
      size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
      fclose(f);
      if (buf)
        LLVMFuzzerTestOneInput(buf, n);
      free(buf);
      files++;
    }
    closedir(dir);
  }
  printf("replayed %d inputs\n", files);
  return files > 0 ? 0 : 1;
}
