"""Customer webhooks, by stage: an order's status change becomes a delivery row (deliveries), signed (signing), sent
only to an address the SSRF guard approved (ssrf) by one POST within a deadline (client), whose answer says
delivered, retry or give up (outcomes). Settings (conf) and errors (errors) are shared by the stages."""
