/* A fake libnvidia-ml.so.1 for the tests: it stands for NVIDIA's NVML library on a machine with
 * no GPU, so that the energy sampler is exercised through its real dlopen path. It is never part
 * of flopledger and proves nothing about real GPUs. Driven by environment variables read at
 * nvmlInit_v2:
 *   FL_FAKE_NVML_DEVICES  number of devices (default 1)
 *   FL_FAKE_NVML_NAME     device name (default "NVIDIA H100 80GB HBM3")
 *   FL_FAKE_NVML_ENERGY   comma-separated total-energy counter readings in mJ: each call to
 *                         nvmlDeviceGetTotalEnergyConsumption returns the next one, per device;
 *                         the last one repeats (default "0")
 *   FL_FAKE_NVML_FAIL     "init": nvmlInit_v2 fails (driver not loaded);
 *                         "energy_permission": the energy counter answers NO_PERMISSION
 */
#include <stdlib.h>
#include <string.h>

#define NVML_SUCCESS 0
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NO_PERMISSION 4
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define MAX_DEVICES 16
#define MAX_READINGS 64

typedef struct {
  unsigned int gpu;
  unsigned int memory;
} nvmlUtilization_t;

static unsigned devices = 1;
static char name[96] = "NVIDIA H100 80GB HBM3";
static unsigned long long readings[MAX_READINGS];
static unsigned reading_count = 1;
static unsigned cursor[MAX_DEVICES];
static int handles[MAX_DEVICES];
static int fail_energy = 0;

int nvmlInit_v2(void) {
  const char *fail = getenv("FL_FAKE_NVML_FAIL");
  const char *count = getenv("FL_FAKE_NVML_DEVICES");
  const char *text = getenv("FL_FAKE_NVML_NAME");
  const char *energy = getenv("FL_FAKE_NVML_ENERGY");
  if (fail && strcmp(fail, "init") == 0) return NVML_ERROR_DRIVER_NOT_LOADED;
  fail_energy = fail && strcmp(fail, "energy_permission") == 0;
  devices = count ? (unsigned)strtoul(count, NULL, 10) : 1;
  if (devices > MAX_DEVICES) devices = MAX_DEVICES;
  strncpy(name, text ? text : "NVIDIA H100 80GB HBM3", sizeof name - 1);
  reading_count = 0;
  readings[0] = 0;
  for (const char *p = energy ? energy : "0"; *p && reading_count < MAX_READINGS;) {
    char *end = NULL;
    readings[reading_count++] = strtoull(p, &end, 10);
    p = (*end == ',') ? end + 1 : end;
  }
  if (reading_count == 0) reading_count = 1;
  memset(cursor, 0, sizeof cursor);
  return NVML_SUCCESS;
}

int nvmlShutdown(void) {
  return NVML_SUCCESS;
}

const char *nvmlErrorString(int result) {
  switch (result) {
  case NVML_SUCCESS:
    return "Success";
  case NVML_ERROR_NO_PERMISSION:
    return "Insufficient Permissions";
  case NVML_ERROR_DRIVER_NOT_LOADED:
    return "Driver Not Loaded";
  case NVML_ERROR_NOT_FOUND:
    return "Not Found";
  default:
    return "Unknown Error";
  }
}

int nvmlDeviceGetCount_v2(unsigned int *count) {
  *count = devices;
  return NVML_SUCCESS;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **device) {
  if (index >= devices) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &handles[index];
  return NVML_SUCCESS;
}

int nvmlDeviceGetHandleByUUID(const char *uuid, void **device) {
  /* "GPU-fake-<index>" */
  if (strncmp(uuid, "GPU-fake-", 9) != 0) return NVML_ERROR_NOT_FOUND;
  return nvmlDeviceGetHandleByIndex_v2((unsigned)strtoul(uuid + 9, NULL, 10), device);
}

static int index_of(void *device) {
  return (int)((int *)device - handles);
}

int nvmlDeviceGetName(void *device, char *out, unsigned int length) {
  (void)device;
  strncpy(out, name, length - 1);
  out[length - 1] = '\0';
  return NVML_SUCCESS;
}

int nvmlDeviceGetTotalEnergyConsumption(void *device, unsigned long long *energy) {
  const int d = index_of(device);
  if (fail_energy) return NVML_ERROR_NO_PERMISSION;
  *energy = readings[cursor[d]];
  if (cursor[d] + 1 < reading_count) ++cursor[d];
  return NVML_SUCCESS;
}

int nvmlDeviceGetPowerUsage(void *device, unsigned int *milliwatts) {
  (void)device;
  *milliwatts = 312000;
  return NVML_SUCCESS;
}

int nvmlDeviceGetClockInfo(void *device, int type, unsigned int *mhz) {
  (void)device;
  *mhz = type == 1 ? 1980 : 2619;
  return NVML_SUCCESS;
}

int nvmlDeviceGetUtilizationRates(void *device, nvmlUtilization_t *rates) {
  (void)device;
  rates->gpu = 87;
  rates->memory = 41;
  return NVML_SUCCESS;
}
