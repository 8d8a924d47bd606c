/* SPDX-License-Identifier: MIT */
#include "meshctl.h"

#include <string.h>

static void usage(FILE *f) {
  fputs("Usage: meshctl <command> [options]\n"
        "\n"
        "Commands:\n"
        "  analyze   check Istio VirtualService/DestinationRule YAML as\n"
        "            `istioctl analyze` does\n"
        "  route     show where meshlib sends a request under a config\n"
        "  call      send requests through meshlib, like curl\n"
        "  mock      run mock HTTP upstreams on 127.0.0.1 until killed\n"
        "  watch     follow config files and endpoints; print each version\n"
        "            accepted or rejected\n"
        "  proxy-config  show a running mesh's routes, clusters or endpoints\n"
        "            from its admin listener, like `istioctl proxy-config`\n"
        "  version   print the version\n"
        "  help      show this help, or `meshctl help <command>`\n"
        "\n"
        "Run `meshctl <command> --help` for the options of a command.\n",
        f);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return MESHCTL_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "analyze") == 0)
    return cmd_analyze(argc - 1, argv + 1);
  if (strcmp(cmd, "route") == 0)
    return cmd_route(argc - 1, argv + 1);
  if (strcmp(cmd, "call") == 0)
    return cmd_call(argc - 1, argv + 1);
  if (strcmp(cmd, "mock") == 0)
    return cmd_mock(argc - 1, argv + 1);
  if (strcmp(cmd, "watch") == 0)
    return cmd_watch(argc - 1, argv + 1);
  if (strcmp(cmd, "proxy-config") == 0 || strcmp(cmd, "pc") == 0)
    return cmd_proxy_config(argc - 1, argv + 1);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("meshctl %s (meshlib %s)\n", MESHLIB_VERSION, MESHLIB_VERSION);
    return MESHCTL_OK;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    if (argc > 2 && strcmp(argv[2], "analyze") == 0)
      usage_analyze(stdout);
    else if (argc > 2 && strcmp(argv[2], "route") == 0)
      usage_route(stdout);
    else if (argc > 2 && strcmp(argv[2], "call") == 0)
      usage_call(stdout);
    else if (argc > 2 && strcmp(argv[2], "mock") == 0)
      usage_mock(stdout);
    else if (argc > 2 && strcmp(argv[2], "watch") == 0)
      usage_watch(stdout);
    else if (argc > 2 && strcmp(argv[2], "proxy-config") == 0)
      usage_proxy_config(stdout);
    else if (argc > 2) {
      fprintf(stderr, "meshctl: unknown command \"%s\"\n", argv[2]);
      usage(stderr);
      return MESHCTL_USAGE;
    } else
      usage(stdout);
    return MESHCTL_OK;
  }
  fprintf(stderr, "meshctl: unknown command \"%s\"\n\n", cmd);
  usage(stderr);
  return MESHCTL_USAGE;
}
