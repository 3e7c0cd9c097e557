// The NVML sampler against tests/support/fake_nvml.c, loaded through the real dlopen path
// ("libnvidia-ml.so.1" found on LD_LIBRARY_PATH, which ctest points at the fake).
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "gpu/nvml_sampler.hpp"

using namespace flopledger::runtime::gpu;

namespace {

void fake(const char *energy, const char *fail = nullptr, const char *devices = "1") {
  setenv("FL_FAKE_NVML_ENERGY", energy, 1);
  setenv("FL_FAKE_NVML_DEVICES", devices, 1);
  if (fail)
    setenv("FL_FAKE_NVML_FAIL", fail, 1);
  else
    unsetenv("FL_FAKE_NVML_FAIL");
}

bool starts_with(const std::string &text, const std::string &prefix) {
  return text.rfind(prefix, 0) == 0;
}

} // namespace

TEST_CASE("energy delta: growth, wrap at 2^64, reset") {
  CHECK(energy_delta_mj(100, 350) == 250);
  CHECK(energy_delta_mj(7, 7) == 0);
  CHECK(energy_delta_mj(18446744073709551000u, 384) == 1000); // 616 to 2^64, then 384
  CHECK(energy_delta_mj(5000, 200) == 200);                   // reset: 200 since the reset
}

TEST_CASE("which device a rank samples") {
  CHECK(device_for_rank(nullptr, 0, 4) == "0");
  CHECK(device_for_rank(nullptr, 3, 4) == "3");
  CHECK(device_for_rank(nullptr, 4, 4).empty()); // a shared device is sampled by one rank
  CHECK(device_for_rank("2,3", 0, 4) == "2");
  CHECK(device_for_rank("2, 3", 1, 4) == "3");
  CHECK(device_for_rank("2,3", 2, 4).empty());
  CHECK(device_for_rank("GPU-fake-1,GPU-fake-0", 1, 2) == "GPU-fake-0");
  CHECK(device_for_rank("1,-1,0", 1, 2).empty()); // CUDA stops at the first invalid entry
  CHECK(device_for_rank("", 0, 2).empty());       // empty: no device visible
  CHECK(device_for_rank("7", 0, 2).empty());
}

TEST_CASE("energy per period and per job, exact, with a wrap and a reset") {
  // Readings: open, then one per sample: +500, +300, wrap (+1000), reset (+200), +50.
  fake("18446744073709550200,18446744073709550700,18446744073709551000,384,200,250");
  NvmlSampler sampler;
  REQUIRE(sampler.open("0"));
  CHECK(starts_with(sampler.status(), "ok: device 0 NVIDIA H100 80GB HBM3"));
  sampler.sample();
  sampler.sample();
  CHECK(sampler.take_energy_mj() == 800);
  sampler.sample(); // wrap
  CHECK(sampler.take_energy_mj() == 1000);
  sampler.sample(); // reset
  sampler.sample();
  CHECK(sampler.take_energy_mj() == 250);
  CHECK(sampler.take_energy_mj() == 0);
  const NvmlReading reading = sampler.reading();
  CHECK(reading.energy_mj == 2050);
  CHECK(reading.device_name == "NVIDIA H100 80GB HBM3");
  CHECK(reading.power_mw == 312000);
  CHECK(reading.sm_clock_mhz == 1980);
  CHECK(reading.utilization_percent == 87);
  CHECK(reading.samples == 6);
  sampler.stop(); // the last reading repeats 250: nothing added
  CHECK(sampler.reading().energy_mj == 2050);
}

TEST_CASE("the sampling thread reads at its period and stops cleanly") {
  fake("1000,1100,1200,1300");
  NvmlSampler sampler;
  REQUIRE(sampler.open("GPU-fake-0"));
  REQUIRE(sampler.start(10));
  sampler.stop(); // joins, then a last reading
  // However many readings the thread took, the counter ends at 1300 (the last value repeats)
  // only if at least three were taken; the stop reading adds one more: at least 100.
  const NvmlReading reading = sampler.reading();
  CHECK(reading.energy_mj >= 100);
  CHECK(reading.energy_mj <= 300);
  CHECK(reading.energy_mj % 100 == 0);
}

TEST_CASE("a missing library, a failing init, a missing permission: recorded, not fatal") {
  NvmlSampler missing("libnvidia-ml-not-installed.so.1");
  CHECK_FALSE(missing.open("0"));
  CHECK(starts_with(missing.status(), "libnvidia-ml-not-installed.so.1 not loaded: "));
  CHECK(missing.take_energy_mj() == 0);
  missing.stop();

  fake("0", "init");
  NvmlSampler no_driver;
  CHECK_FALSE(no_driver.open("0"));
  CHECK(no_driver.status() == "nvmlInit_v2 failed: Driver Not Loaded");

  fake("0", "energy_permission");
  NvmlSampler denied;
  CHECK_FALSE(denied.open("0"));
  CHECK(denied.status() == "nvmlDeviceGetTotalEnergyConsumption failed: Insufficient "
                           "Permissions (device 0, NVIDIA H100 80GB HBM3)");
  CHECK_FALSE(denied.active());
  denied.sample(); // harmless
  CHECK(denied.take_energy_mj() == 0);

  fake("0");
  NvmlSampler absent;
  CHECK_FALSE(absent.open("5"));
  CHECK(starts_with(absent.status(), "device 5: handle failed: "));
  unsetenv("FL_FAKE_NVML_FAIL");
}
