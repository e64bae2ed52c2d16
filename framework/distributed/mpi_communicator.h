// MpiCommunicator: data-parallel training over MPI (Open MPI from Debian: openmpi-bin,
// libopenmpi-dev), for Trainer::set_data_parallel. Link Strata::mpi.
//
//   int main(int argc, char** argv) {
//     strata::MpiCommunicator world(&argc, &argv);   // MPI_Init ... MPI_Finalize
//     trainer.set_data_parallel(&world);
//     versioning::Run run(trainer, world.rank() == 0 ? options : versioning::RunOptions());
//
//   mpirun -np 4 ./train ...
//
// Thread-safety: one thread at a time. MPI is initialised asking for MPI_THREAD_SERIALIZED, so
// the Trainer's communication thread may sum gradients while the main thread computes.
#pragma once

#include "strata/framework/train/communicator.h"

namespace strata {

class MpiCommunicator : public Communicator {
 public:
  // Initialises MPI (unless the program already did) over MPI_COMM_WORLD; the destructor
  // finalises it when this object initialised it.
  MpiCommunicator(int* argc, char*** argv);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(float* data, size_t n) override;
  void allreduce_sum(double* data, size_t n) override;
  void broadcast(std::string& bytes, int root) override;
  std::vector<std::string> allgather(const std::string& mine) override;
  [[noreturn]] void abort(int exit_code) override;
  bool allows_other_threads() const override { return serialized_; }

  // Whether this process was started by mpirun / mpiexec (Open MPI's or a PMI launcher's
  // environment is present), without initialising MPI.
  static bool launched_by_mpirun();

 private:
  int rank_ = 0, size_ = 1;
  bool owns_init_ = false;
  bool serialized_ = false;  // MPI granted MPI_THREAD_SERIALIZED or more
};

}  // namespace strata
