/*
 * A stand-in for the NXP BSP's libonnxruntime.so, for the accelerator-hook tests. It exports exactly what the
 * hook looks up: OrtGetApiBase (version string, and an OrtApi table whose CreateStatus / GetErrorMessage /
 * ReleaseStatus sit at their real indices 0 / 2 / 93) and the three execution-provider entry points of the BSPs.
 * It cannot run models: the tests keep the packaged ONNX Runtime for sessions and point only the hook here
 * (AcceleratorSettings.ReplaceRuntime = false), so the OrtSessionOptions* it receives is only recorded, never used.
 *
 * Behaviour is fixed at compile time so each test builds its own isolated copy (tests run in parallel):
 *   -DFAKE_LOG='"path"'      every call appends one line here: entry point, argument, and the graph-cache
 *                            environment as native getenv sees it
 *   -DFAKE_FAIL=mask         entry points that return an error status (1 VSINPU, 2 Nnapi, 4 VsiNpu)
 *   -DFAKE_OMIT=mask         entry points left out of the library altogether (same bits)
 *   -DFAKE_VERSION='"x.y.z"' what GetVersionString answers (default 1.31.1)
 *
 * Built by the tests: gcc -shared -fPIC -o libfake_vendor_ort.so fake_vendor_ep.c [-D...]
 * and for the board: aarch64-linux-gnu-gcc -shared -fPIC ... (checked to be an ELF aarch64 shared object).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FAKE_LOG
#define FAKE_LOG "/dev/null"
#endif
#ifndef FAKE_FAIL
#define FAKE_FAIL 0
#endif
#ifndef FAKE_OMIT
#define FAKE_OMIT 0
#endif
#ifndef FAKE_VERSION
#define FAKE_VERSION "1.31.1"
#endif

#define EXPORT __attribute__((visibility("default")))

typedef struct OrtStatus {
    int code;
    char message[256];
} OrtStatus;

typedef struct OrtApiBase {
    const void *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} OrtApiBase;

static void record(const char *entry, const void *options, long argument) {
    FILE *log = fopen(FAKE_LOG, "a");
    if (!log) return;
    const char *cache = getenv("VIV_VX_ENABLE_CACHE_GRAPH_BINARY");
    const char *dir = getenv("VIV_VX_CACHE_BINARY_GRAPH_DIR");
    fprintf(log, "%s options=%s arg=%ld cache=%s dir=%s\n", entry, options ? "set" : "null", argument,
            cache ? cache : "-", dir ? dir : "-");
    fclose(log);
}

static OrtStatus *create_status(int code, const char *message) {
    OrtStatus *status = calloc(1, sizeof(OrtStatus));
    status->code = code;
    strncpy(status->message, message, sizeof(status->message) - 1);
    return status;
}

static int get_error_code(const OrtStatus *status) { return status->code; }

static const char *get_error_message(const OrtStatus *status) { return status->message; }

static void release_status(OrtStatus *status) {
    record("ReleaseStatus", status, 0);
    free(status);
}

static void *api[256];

static const void *get_api(uint32_t version) {
    if (version < 1 || version > 23) return NULL;
    api[0] = (void *)create_status;
    api[1] = (void *)get_error_code;
    api[2] = (void *)get_error_message;
    api[93] = (void *)release_status;
    return api;
}

static const char *get_version_string(void) { return FAKE_VERSION; }

static const OrtApiBase api_base = {get_api, get_version_string};

EXPORT const OrtApiBase *OrtGetApiBase(void) { return &api_base; }

__attribute__((unused)) static OrtStatus *answer(int bit, const char *message) {
    return (FAKE_FAIL & bit) ? create_status(11 /* ORT_EP_FAIL */, message) : NULL;
}

#if !(FAKE_OMIT & 1)
EXPORT OrtStatus *OrtSessionOptionsAppendExecutionProvider_VSINPU(void *options) {
    record("VSINPU", options, 0);
    return answer(1, "VSINPU: cannot open /dev/galcore (fake)");
}
#endif

#if !(FAKE_OMIT & 2)
EXPORT OrtStatus *OrtSessionOptionsAppendExecutionProvider_Nnapi(void *options, uint32_t flags) {
    record("Nnapi", options, (long)flags);
    return answer(2, "NNAPI: no accelerator device found (fake)");
}
#endif

#if !(FAKE_OMIT & 4)
EXPORT OrtStatus *OrtSessionOptionsAppendExecutionProvider_VsiNpu(void *options, int device_id) {
    record("VsiNpu", options, (long)device_id);
    return answer(4, "VsiNpu: device 0 not present (fake)");
}
#endif
