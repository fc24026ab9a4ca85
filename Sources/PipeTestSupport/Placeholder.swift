enum _PlaceholderPipeTestSupport {}
