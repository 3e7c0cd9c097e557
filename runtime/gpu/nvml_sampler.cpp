#include "nvml_sampler.hpp"

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <type_traits>

namespace flopledger::runtime::gpu {

namespace {

// The few NVML declarations used (nvml.h is not installed here; these match its ABI).
using nvmlReturn_t = int;
using nvmlDevice_t = void *;
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr int NVML_CLOCK_SM = 1;
constexpr unsigned kNameLength = 96; // NVML_DEVICE_NAME_V2_BUFFER_SIZE

} // namespace

struct NvmlSampler::Api {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*count)(unsigned int *) = nullptr;
  nvmlReturn_t (*by_index)(unsigned int, nvmlDevice_t *) = nullptr;
  nvmlReturn_t (*by_uuid)(const char *, nvmlDevice_t *) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char *, unsigned int) = nullptr;
  nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long *) = nullptr;
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned int *) = nullptr;
  nvmlReturn_t (*clock)(nvmlDevice_t, int, unsigned int *) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t *) = nullptr;
  const char *(*error_string)(nvmlReturn_t) = nullptr;

  std::string error(const std::string &call, nvmlReturn_t code) const {
    const char *text = error_string ? error_string(code) : nullptr;
    return call + " failed: " + (text ? text : "error " + std::to_string(code));
  }
};

struct NvmlSampler::Thread {
  pthread_t id{};
  std::uint64_t period_ms = 1000;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
};

std::uint64_t energy_delta_mj(std::uint64_t previous, std::uint64_t now) {
  if (now >= previous) return now - previous;
  const std::uint64_t modular = now - previous; // the distance forward through 2^64
  return modular < (std::uint64_t{1} << 62) ? modular : now;
}

std::string device_for_rank(const char *visible, unsigned local_rank, unsigned nvml_devices) {
  std::vector<std::string> devices;
  if (visible == nullptr) {
    for (unsigned i = 0; i < nvml_devices; ++i)
      devices.push_back(std::to_string(i));
  } else {
    std::string entry;
    for (const char *c = visible;; ++c) {
      if (*c == ',' || *c == '\0') {
        // CUDA stops at the first invalid entry; so do we (a "-1" hides every later device).
        const bool uuid = entry.rfind("GPU-", 0) == 0 || entry.rfind("MIG-", 0) == 0;
        const bool index =
            !entry.empty() && entry.find_first_not_of("0123456789") == std::string::npos;
        if (!uuid && !index) break;
        if (index && std::strtoul(entry.c_str(), nullptr, 10) >= nvml_devices) break;
        devices.push_back(entry);
        entry.clear();
        if (*c == '\0') break;
      } else if (*c != ' ') {
        entry.push_back(*c);
      }
    }
  }
  return local_rank < devices.size() ? devices[local_rank] : std::string();
}

unsigned local_rank_from_environment() {
  for (const char *name :
       {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID", "PMI_LOCAL_RANK"}) {
    const char *value = std::getenv(name);
    if (value && *value) return static_cast<unsigned>(std::strtoul(value, nullptr, 10));
  }
  return 0;
}

NvmlSampler::~NvmlSampler() {
  stop();
}

bool NvmlSampler::open(const std::string &device) {
  std::lock_guard<std::mutex> lock(mutex_);
  library_ = dlopen(library_name_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library_) {
    const char *why = dlerror();
    status_ = library_name_ + " not loaded: " + (why ? why : "unknown error");
    return false;
  }
  api_ = new Api;
  auto resolve = [this](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(library_, name));
    return fn != nullptr;
  };
  const bool complete = resolve(api_->init, "nvmlInit_v2") &&
                        resolve(api_->shutdown, "nvmlShutdown") &&
                        resolve(api_->count, "nvmlDeviceGetCount_v2") &&
                        resolve(api_->by_index, "nvmlDeviceGetHandleByIndex_v2") &&
                        resolve(api_->by_uuid, "nvmlDeviceGetHandleByUUID") &&
                        resolve(api_->name, "nvmlDeviceGetName") &&
                        resolve(api_->energy, "nvmlDeviceGetTotalEnergyConsumption") &&
                        resolve(api_->power, "nvmlDeviceGetPowerUsage") &&
                        resolve(api_->clock, "nvmlDeviceGetClockInfo") &&
                        resolve(api_->utilization, "nvmlDeviceGetUtilizationRates");
  resolve(api_->error_string, "nvmlErrorString");
  auto give_up = [this](std::string why, bool initialised) {
    status_ = std::move(why);
    if (initialised) api_->shutdown();
    delete api_;
    api_ = nullptr;
    dlclose(library_);
    library_ = nullptr;
    return false;
  };
  if (!complete) return give_up(library_name_ + " lacks an NVML function used", false);
  nvmlReturn_t rc = api_->init();
  if (rc != NVML_SUCCESS) return give_up(api_->error("nvmlInit_v2", rc), false);
  unsigned count = 0;
  rc = api_->count(&count);
  if (rc != NVML_SUCCESS) return give_up(api_->error("nvmlDeviceGetCount_v2", rc), true);
  std::string entry = device;
  if (entry.empty())
    entry =
        device_for_rank(std::getenv("CUDA_VISIBLE_DEVICES"), local_rank_from_environment(), count);
  if (entry.empty()) return give_up("no device for this rank (another rank samples it)", true);
  nvmlDevice_t handle = nullptr;
  if (entry.find_first_not_of("0123456789") == std::string::npos)
    rc = api_->by_index(static_cast<unsigned>(std::strtoul(entry.c_str(), nullptr, 10)), &handle);
  else
    rc = api_->by_uuid(entry.c_str(), &handle);
  if (rc != NVML_SUCCESS) return give_up(api_->error("device " + entry + ": handle", rc), true);
  char name[kNameLength] = {};
  if (api_->name(handle, name, kNameLength) == NVML_SUCCESS) reading_.device_name = name;
  unsigned long long counter = 0;
  rc = api_->energy(handle, &counter);
  if (rc != NVML_SUCCESS)
    return give_up(api_->error("nvmlDeviceGetTotalEnergyConsumption", rc) + " (device " + entry +
                       (reading_.device_name.empty() ? "" : ", " + reading_.device_name) + ")",
                   true);
  device_ = handle;
  have_energy_ = true;
  last_counter_ = counter;
  reading_.samples = 1;
  status_ = "ok: device " + entry + " " + reading_.device_name;
  return true;
}

void NvmlSampler::sample() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!device_) return;
  unsigned long long counter = 0;
  if (api_->energy(device_, &counter) == NVML_SUCCESS) {
    reading_.energy_mj += energy_delta_mj(last_counter_, counter);
    last_counter_ = counter;
  }
  unsigned value = 0;
  if (api_->power(device_, &value) == NVML_SUCCESS) reading_.power_mw = value;
  if (api_->clock(device_, NVML_CLOCK_SM, &value) == NVML_SUCCESS) reading_.sm_clock_mhz = value;
  nvmlUtilization_t utilization{};
  if (api_->utilization(device_, &utilization) == NVML_SUCCESS)
    reading_.utilization_percent = utilization.gpu;
  ++reading_.samples;
}

bool NvmlSampler::start(std::uint64_t period_ms) {
  if (!device_ || thread_) return false;
  thread_ = new Thread;
  thread_->period_ms = period_ms;
  auto body = [](void *arg) -> void * {
    auto *self = static_cast<NvmlSampler *>(arg);
    sched_param param{};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);
    setpriority(PRIO_PROCESS, 0, 19);
    Thread &t = *self->thread_;
    std::unique_lock<std::mutex> lock(t.mutex);
    while (!t.wake.wait_for(lock, std::chrono::milliseconds(t.period_ms),
                            [&] { return t.stopping; })) {
      lock.unlock();
      self->sample();
      lock.lock();
    }
    return nullptr;
  };
  if (pthread_create(&thread_->id, nullptr, body, this) != 0) {
    delete thread_;
    thread_ = nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    status_ += " (no sampling thread: readings at period ends only)";
    return false;
  }
  return true;
}

void NvmlSampler::stop() {
  if (thread_) {
    {
      std::lock_guard<std::mutex> lock(thread_->mutex);
      thread_->stopping = true;
    }
    thread_->wake.notify_all();
    pthread_join(thread_->id, nullptr);
    delete thread_;
    thread_ = nullptr;
  }
  sample(); // the last reading: the job's energy up to now
  std::lock_guard<std::mutex> lock(mutex_);
  if (api_) {
    api_->shutdown();
    delete api_;
    api_ = nullptr;
  }
  if (library_) {
    dlclose(library_);
    library_ = nullptr;
  }
  device_ = nullptr;
}

std::uint64_t NvmlSampler::take_energy_mj() {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::uint64_t delta = reading_.energy_mj - taken_mj_;
  taken_mj_ = reading_.energy_mj;
  return delta;
}

NvmlReading NvmlSampler::reading() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reading_;
}

std::string NvmlSampler::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

} // namespace flopledger::runtime::gpu
