// Certificates (src/security/certificate.h): ParseCertificatePem reads the
// subject CN and the public key's node ID. The first input byte picks the
// form: even, the rest is PEM text as is; odd, the rest is DER, which this
// target wraps in PEM armour so that mutations reach OpenSSL's ASN.1 decoder
// instead of its base64. Checks that only the first certificate counts:
// appending another changes nothing.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "src/security/certificate.h"

namespace {

std::string PemOf(absl::string_view der) {
  std::string b64(4 * ((der.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                reinterpret_cast<const unsigned char*>(der.data()),
                                static_cast<int>(der.size()));
  b64.resize(static_cast<size_t>(n));
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) absl::StrAppend(&pem, b64.substr(i, 64), "\n");
  absl::StrAppend(&pem, "-----END CERTIFICATE-----\n");
  return pem;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string pem = (data[0] & 1) ? PemOf(rest) : std::string(rest);
  absl::StatusOr<kv::security::CertificateInfo> info = kv::security::ParseCertificatePem(pem);
  if (!info.ok()) {
    FUZZ_CHECK(info.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  absl::StatusOr<kv::security::CertificateInfo> first = kv::security::ParseCertificatePem(
      absl::StrCat(pem, "\n", PemOf("not a certificate, and not the first")));
  FUZZ_CHECK(first.ok());
  FUZZ_CHECK(first->common_name == info->common_name && first->id == info->id);
  return 0;
}
