// libflopledger_trace.so: the io/ trace writer behind one C-linkage entry point (see
// trace_sink.hpp for why it is a separate, locally loaded object).
#include <hdf5.h>

#include <memory>

#include "trace_sink.hpp"

namespace {

class WriterSink final : public flopledger::runtime::TraceSink {
public:
  explicit WriterSink(std::unique_ptr<flopledger::io::TraceWriter> writer)
      : writer_(std::move(writer)) {}
  std::uint64_t next_row() const override { return writer_->next_row(); }
  std::uint32_t next_segment_id() const override { return writer_->next_segment_id(); }
  flopledger::u128 cumulative_counted() const override { return writer_->cumulative_counted(); }
  flopledger::u128 cumulative_modification() const override {
    return writer_->cumulative_modification();
  }
  flopledger::io::StepRow last_row() const override { return writer_->last_row(); }
  flopledger::u128 replica_tokens_total() const override { return writer_->replica_tokens_total(); }
  std::string hdf5_version() const override {
    unsigned major = 0, minor = 0, release = 0;
    H5get_libversion(&major, &minor, &release);
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
  }
  bool add_environment(const flopledger::io::EnvironmentEntry &entry) override {
    return writer_->add_environment(entry);
  }
  bool begin_segment(const flopledger::io::Segment &segment) override {
    return writer_->begin_segment(segment);
  }
  bool append(const flopledger::io::StepRow &row) override { return writer_->append(row); }
  bool add_event(const flopledger::io::Event &event) override { return writer_->add_event(event); }
  bool end_segment(double end, std::uint8_t state, std::int32_t exit_status) override {
    return writer_->end_segment(end, state, exit_status);
  }
  std::string chain_head() const override { return writer_->chain_head(); }
  const std::string &error() const override { return writer_->error(); }

private:
  std::unique_ptr<flopledger::io::TraceWriter> writer_;
};

} // namespace

extern "C" __attribute__((visibility("default"))) flopledger::runtime::TraceSink *
flopledger_plugin_open_trace(const std::string &path, const flopledger::io::TraceHeader &header,
                             const flopledger::io::IntegrityKey &key, std::string &error) {
  auto writer = flopledger::io::TraceWriter::open(path, header, error, key);
  if (!writer) return nullptr;
  return new WriterSink(std::move(writer));
}
