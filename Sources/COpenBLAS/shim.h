// OpenBLAS's CBLAS interface and its threading controls, as Debian's libopenblas-dev installs them.
#include <cblas.h>
