// Stripe.js stand-in: see README
