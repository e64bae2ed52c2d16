// Communicator: what data-parallel training needs from a group of processes (docs/design.md
// "Training", docs/distributed.md). Strata::mpi implements it over MPI (framework/distributed); a test or a
// user may implement it over anything else.
//
// Every call is collective: every rank of the group makes it, in the same order, with the same
// sizes. Results are identical in every bit on every rank.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "strata/framework/core/options.h"

namespace strata {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Element-wise sums over the ranks, in place.
  virtual void allreduce_sum(float* data, size_t n) = 0;
  virtual void allreduce_sum(double* data, size_t n) = 0;
  // Root's bytes on every rank (resized there).
  virtual void broadcast(std::string& bytes, int root) = 0;
  // Every rank's string, in rank order, on every rank.
  virtual std::vector<std::string> allgather(const std::string& mine) = 0;
  // Whether collectives may be called from another thread than the one that made this object,
  // one thread at a time (MPI_THREAD_SERIALIZED): the gradient all-reduce can then overlap the
  // backward pass (DataParallelOptions::overlap).
  virtual bool allows_other_threads() const { return false; }
  // Ends every rank of the group after an error on this one (a rank that stops alone would leave
  // the others waiting in a collective forever). Does not return.
  [[noreturn]] virtual void abort(int exit_code) = 0;
};

struct DataParallelOptions {
  // Gradients are summed in buckets of about this many bytes: one collective per bucket.
  STRATA_ARG(size_t, bucket_bytes) = size_t{4} << 20;
  // Sum full buckets on a communication thread while the backward pass goes on. Off by default:
  // on a machine whose cores all compute, the thread takes CPU from backward (docs/benchmarks.md
  // "Data-parallel training" has the measurement); it pays where the transport works without the
  // CPU (RDMA) or cores are spare.
  STRATA_ARG(bool, overlap) = false;
};

}  // namespace strata
