"""What the tests and the benchmarks both need to run Scoopboard's real processes on this machine: free ports,
throwaway Redis servers, an empty channel layer. Neither the application nor the retry layer imports it."""
