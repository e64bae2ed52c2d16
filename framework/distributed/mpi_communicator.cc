#include "strata/framework/distributed/mpi_communicator.h"

#include <mpi.h>

#include <climits>
#include <cstdint>
#include <cstdlib>

#include "strata/framework/core/error.h"

namespace strata {
namespace {

// MPI counts are ints: large buffers go in pieces.
constexpr size_t kMaxCount = static_cast<size_t>(INT_MAX);

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(ErrorCode::kIOError, std::string(what) + " failed: " + std::string(text, static_cast<size_t>(len)), "MPI",
              "a rank has probably died; see mpirun's message");
}

}  // namespace

MpiCommunicator::MpiCommunicator(int* argc, char*** argv) {
  int ready = 0;
  MPI_Initialized(&ready);
  if (!ready) {
    int provided = 0;
    check(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
    owns_init_ = true;
  }
  int level = MPI_THREAD_SINGLE;
  MPI_Query_thread(&level);
  serialized_ = level >= MPI_THREAD_SERIALIZED;
  // Errors come back as codes (turned into strata::Error) instead of killing the process mid-call.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_init_ && !finalized) MPI_Finalize();
}

void MpiCommunicator::allreduce_sum(float* data, size_t n) {
  for (size_t at = 0; at < n; at += kMaxCount)
    check(
        MPI_Allreduce(MPI_IN_PLACE, data + at, static_cast<int>(std::min(kMaxCount, n - at)), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
        "MPI_Allreduce");
}

void MpiCommunicator::allreduce_sum(double* data, size_t n) {
  for (size_t at = 0; at < n; at += kMaxCount)
    check(MPI_Allreduce(MPI_IN_PLACE, data + at, static_cast<int>(std::min(kMaxCount, n - at)), MPI_DOUBLE, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
}

void MpiCommunicator::broadcast(std::string& bytes, int root) {
  uint64_t size = bytes.size();
  check(MPI_Bcast(&size, 1, MPI_UINT64_T, root, MPI_COMM_WORLD), "MPI_Bcast");
  bytes.resize(size);
  for (size_t at = 0; at < size; at += kMaxCount)
    check(MPI_Bcast(bytes.data() + at, static_cast<int>(std::min<size_t>(kMaxCount, size - at)), MPI_CHAR, root, MPI_COMM_WORLD),
          "MPI_Bcast");
}

std::vector<std::string> MpiCommunicator::allgather(const std::string& mine) {
  if (mine.size() > kMaxCount) throw_invalid("allgather: a message over 2 GiB");
  int my_size = static_cast<int>(mine.size());
  std::vector<int> sizes(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
  check(MPI_Allgather(&my_size, 1, MPI_INT, sizes.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
  int64_t total = 0;
  for (size_t r = 0; r < sizes.size(); ++r) {
    offsets[r] = static_cast<int>(total);
    total += sizes[r];
  }
  if (total > static_cast<int64_t>(kMaxCount)) throw_invalid("allgather: over 2 GiB in all");
  std::string all(static_cast<size_t>(total), '\0');
  check(MPI_Allgatherv(mine.data(), my_size, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, MPI_COMM_WORLD),
        "MPI_Allgatherv");
  std::vector<std::string> out;
  for (size_t r = 0; r < sizes.size(); ++r)
    out.push_back(all.substr(static_cast<size_t>(offsets[r]), static_cast<size_t>(sizes[r])));
  return out;
}

void MpiCommunicator::abort(int exit_code) {
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);  // MPI_Abort does not return; this satisfies [[noreturn]]
}

bool MpiCommunicator::launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK");
}

}  // namespace strata
