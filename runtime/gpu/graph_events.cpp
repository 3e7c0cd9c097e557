#include "graph_events.hpp"

#include "counters.hpp"

namespace flopledger::runtime::gpu {

GraphLedger &graph_ledger() {
  static GraphLedger *ledger = new GraphLedger; // never destroyed: hooks may run during exit
  return *ledger;
}

void count_graph_launch(GraphLedger::Handle exec) {
  if (!counting_enabled()) return;
  graph_ledger().launched(exec).for_each(
      [](flopledger_source source, flopledger_precision precision, std::uint64_t flops) {
        count(source, precision, flops);
      });
}

} // namespace flopledger::runtime::gpu
