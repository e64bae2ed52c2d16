// Internal to strata_summary (included by .cc files only; it pulls in protobuf headers).
//
// Deterministic serialization: protobuf writes map fields (NodeDef.attr, the hparams map) in
// hash order unless asked otherwise, and Strata wants equal events to be equal bytes (golden
// records, re-created event files that match the live ones).
#pragma once

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message_lite.h>

#include <string>

namespace strata::summary {

inline std::string deterministic_bytes(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace strata::summary
